"""Published results and ``verify``: a finished run's per-member rows, summary and claim tables are
written to ``results/<name>/``; the tables recompute from the rows alone; ``verify`` says "identical"
or lists each differing row with both values, and on another platform whether the difference lies
within the reference's seed spread (exit 0 only when everything agrees)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from diffmix_utils import artifacts, params, provenance, verify
from diffmix_utils.analyze import published

METRICS = ("val_acc", "test_acc_at_best_val", "test_acc_final", "test_acc_best")


def _finish(m: dict, acc: float) -> None:
    folder = artifacts.train_dir(m)
    folder.mkdir(parents=True, exist_ok=True)
    artifacts.write_json(folder / "result.json", {k: acc for k in METRICS})
    provenance.write(folder, m, "cpu", "fp32")
    artifacts.mark_done(folder)


def _finished_run(tmp_path) -> dict:
    p = params.resolve({"name": "pub", "workdir": str(tmp_path / "runs"), "device": "cpu",
                        "sweep": {"synthesize.strategy": ["none", "diff-mix"], "seed": [0, 1, 2, 3]}})
    rng = np.random.default_rng(0)
    for m in params.expand_sweep(p):
        _finish(m, round(0.5 + 0.1 * rng.random(), 4))
    return p


def _verify(p, ref, capsys) -> tuple[int, str]:
    overrides = [f"workdir={p['workdir']}", "name=pub", "sweep.synthesize.strategy=[none, diff-mix]",
                 "sweep.seed=[0, 1, 2, 3]", "device=cpu"]
    import yaml
    file = ref.parent / "pub.yaml"
    file.write_text(yaml.safe_dump({}))
    status = verify.main([str(file), *[x for o in overrides for x in ("--set", o)], "--reference", str(ref)])
    return status, capsys.readouterr().out


def test_a_published_run_verifies_identical_and_a_changed_row_is_named_with_both_values(tmp_path, capsys):
    p = _finished_run(tmp_path)
    ref = published.publish(p, "pub.yaml", ["pub.yaml"], tmp_path / "ref")
    files = published.load("pub", ref)
    assert len(files["runs"]) == 8 and {"train_key", "baseline_key"} <= set(files["runs"].columns)
    assert "train_dir" not in files["runs"] and files["meta"]["members"] == 8
    status, out = _verify(p, ref, capsys)
    assert status == 0 and "identical: all 8 runs, every metric" in out and "platform: the reference's" in out
    m = params.expand_sweep(p)[5]
    _finish(m, 0.123)
    status, out = _verify(p, ref, capsys)
    assert status == 1 and "1 of 8 runs differ" in out
    line = next(x for x in out.splitlines() if x.strip().startswith(m["member"]))
    before = files["runs"].set_index("member").at[m["member"], "test_acc_at_best_val"]
    assert f"test_acc_at_best_val {100 * before:.2f} -> 12.30" in line


def test_on_another_platform_each_difference_is_placed_against_the_seed_spread(tmp_path, capsys):
    p = _finished_run(tmp_path)
    ref = published.publish(p, "pub.yaml", ["pub.yaml"], tmp_path / "ref")
    env = pd.read_csv(ref / "environment.csv")
    env["torch"] = "0.0.1"  # the reference made elsewhere
    env.to_csv(ref / "environment.csv", index=False)
    runs = pd.read_csv(ref / "runs.csv")
    m = params.expand_sweep(p)[5]
    row = runs.set_index("member").loc[m["member"]]
    arm = runs[runs.strategy == row.strategy]["test_acc_at_best_val"]
    spread = 2 * 100 * arm.std(ddof=1)
    _finish(m, row.test_acc_at_best_val + spread / 100 / 4)  # a quarter of the spread away
    status, out = _verify(p, ref, capsys)
    assert status == 0 and "torch: " in out and "within the seed spread" in out and "lies within" in out
    _finish(m, row.test_acc_at_best_val + 2 * spread / 100)
    status, out = _verify(p, ref, capsys)
    assert status == 1 and "outside the seed spread" in out


def test_a_reference_without_its_cpu_model_is_not_taken_for_this_platform(tmp_path, capsys):
    """One AVX512 machine of another vendor gives other last bits (2026-12-07): a reference that did not
    record its CPU model cannot be called this platform's, so verify places differences in the spread."""
    p = _finished_run(tmp_path)
    ref = published.publish(p, "pub.yaml", ["pub.yaml"], tmp_path / "ref")
    env = pd.read_csv(ref / "environment.csv")
    assert env["cpu_model"].iloc[0] == provenance.cpu_model()
    status, out = _verify(p, ref, capsys)
    assert status == 0 and "platform: the reference's" in out
    env.drop(columns=["cpu_model"]).to_csv(ref / "environment.csv", index=False)
    status, out = _verify(p, ref, capsys)
    assert status == 0 and "cpu_model: " in out and "not recorded in the reference" in out


def test_an_unfinished_run_and_a_missing_reference_say_what_to_do(tmp_path, capsys):
    p = _finished_run(tmp_path)
    ref = published.publish(p, "pub.yaml", ["pub.yaml"], tmp_path / "ref")
    artifacts.train_dir(params.expand_sweep(p)[0]).joinpath("done.json").unlink()
    status, out = _verify(p, ref, capsys)
    assert status == 1 and "not trained here yet (1)" in out
    status = verify.main([str(ref.parent / "pub.yaml"), "--set", "name=nothing-published"])
    assert status == 2 and "no published results for 'nothing-published'" in capsys.readouterr().err


def test_the_summary_recomputes_from_the_published_rows_alone(tmp_path):
    p = _finished_run(tmp_path)
    ref = published.publish(p, "pub.yaml", ["pub.yaml"], tmp_path / "ref")
    files = published.load("pub", ref)
    again = published.recomputed(p, files["runs"])
    pd.testing.assert_frame_equal(verify._through_csv(again["results"]), files["results"])


def test_publishing_from_a_checkout_with_uncommitted_changes_is_refused(monkeypatch, capsys):
    monkeypatch.setattr(provenance, "kit", lambda: {"kit_version": "0", "kit_commit": "abc", "kit_dirty": True})
    assert published.main(["params/demo.yaml"]) == 2
    assert "uncommitted changes" in capsys.readouterr().err


def test_the_environment_lists_every_kit_commit_that_trained_a_member(tmp_path):
    from diffmix_utils.analyze.tables import collect_results, environment_table
    p = _finished_run(tmp_path)
    first = artifacts.train_dir(params.expand_sweep(p)[0]) / "provenance.json"
    record = artifacts.read_json(first)
    artifacts.write_json(first, {**record, "kit_commit": "0" * 40})  # one classifier made by another commit
    table = environment_table(collect_results(p))
    assert len(table) == 1 and table.at[0, "members"] == 8  # the commit is reported, not compared
    assert set(table.at[0, "kit_commit"].split()) == {"0" * 40, str(record["kit_commit"])}


def test_the_cpu_model_names_its_generation_where_the_name_alone_may_be_masked():
    from pathlib import Path

    import pytest
    info = Path("/proc/cpuinfo")
    if not info.is_file() or "cpu family" not in info.read_text():
        pytest.skip("not Linux x86: platform's words are all there is")
    assert "(cpu family " in provenance.cpu_model() and ", model " in provenance.cpu_model()


def test_a_reference_that_mixes_recorded_and_unrecorded_rows_compares_without_error():
    """toy_dials reuses classifiers trained before cpu_model was recorded: one column, text and empty."""
    import numpy as np
    import pandas as pd

    from diffmix_utils.verify import platform_differences
    ref = pd.DataFrame({"cpu_model": [np.nan, "AMD EPYC (cpu family 25)"], "torch": ["2.14.1", "2.14.1"]})
    assert platform_differences(ref.copy(), ref) == []
    other = ref.assign(cpu_model=[None, "Intel Xeon"])
    assert platform_differences(other, ref) == ["cpu_model: Intel Xeon/not recorded here, "
                                                "AMD EPYC (cpu family 25)/not recorded in the reference"]
