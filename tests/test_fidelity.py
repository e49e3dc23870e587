"""Toybirds oracles and the fidelity measurement (tiny settings: this checks mechanics, not quality)."""
from __future__ import annotations

from diffmix_utils.measure.fidelity import format_report, measure
from diffmix_utils.measure.oracles import KINDS, load_or_train_oracle
from diffmix_utils.data import toybirds


def test_oracle_learns_foreground_and_background_and_is_cached(tmp_path):
    o = load_or_train_oracle(tmp_path, 4, 32, per_class=80, epochs=6)
    assert o.info["foreground_acc"] > 0.5 and o.info["background_acc"] > 0.5  # chance 0.25 / 0.2
    again = load_or_train_oracle(tmp_path, 4, 32, per_class=80, epochs=6)
    assert again.info == o.info
    img, kind = toybirds.render_image(2, "test", 0, 32)
    cls, kinds = again.predict([img])
    assert 0 <= cls[0] < 4 and kinds[0] in KINDS


def test_measure_reports_every_figure(finetuned):
    p, _ = finetuned
    p = {**p, "synthesize": {**p["synthesize"], "steps": 2}}
    r = measure(p, [0.5, 1.0], num_sources=4, gen_per_class=1, batch_size=4,
                oracle_options={"per_class": 10, "epochs": 1})
    assert [row["strength"] for row in r["rows"]] == [0.5, 1.0]
    for row in r["rows"]:
        assert all(0 <= row[k] <= 1 for k in ("target_rate", "source_rate", "background_kept"))
    assert 0 <= r["vae_ceiling"] <= 1 and 0 <= r["text_to_image_acc"] <= 1 and r["chance"] == 0.25
    assert "x chance" in format_report(r)
