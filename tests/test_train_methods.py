"""Training methods: losses by hand, Mixup/CutMix/CMO label mixing, synthetic sampling, group and
shot accounting, exact resume after a crash, unreadable images."""
from __future__ import annotations

import json
import math
from collections import Counter

import numpy as np
import pytest
import torch

from conftest import tiny_params
from diffmix_utils import artifacts, train
from diffmix_utils.data import DatasetError, ensure_split
from diffmix_utils.train.evaluation import breakdown, shot_thresholds
from diffmix_utils.train.losses import ClassifierLoss, class_weights, ldam_margins
from diffmix_utils.train.mixing import BatchMixer
from diffmix_utils.pool_rows import limit_targets
from diffmix_utils.train.data import RealWithSynthetic

Z = torch.tensor([[2.0, 0.0, -1.0]])
Y = torch.tensor([[1.0, 0.0, 0.0]])


def lse(*v):
    return math.log(sum(math.exp(a) for a in v))


def test_cross_entropy_with_reference_smoothing_by_hand():
    q = [0.9 + 0.05, 0.05, 0.05]  # eps/(C-1) + (1-eps) y with eps 0.1
    logp = [2 - lse(2, 0, -1), 0 - lse(2, 0, -1), -1 - lse(2, 0, -1)]
    want = -sum(a * b for a, b in zip(q, logp))
    assert ClassifierLoss("ce", 0.1)(Z, Y).item() == pytest.approx(want, abs=1e-5)


def test_balanced_softmax_by_hand():
    counts = [6, 3, 1]
    z = [2 + math.log(0.6), 0 + math.log(0.3), -1 + math.log(0.1)]
    want = -(z[0] - lse(*z))
    assert ClassifierLoss("balanced_softmax", 0.0, counts)(Z, Y).item() == pytest.approx(want, abs=1e-5)


def test_ldam_by_hand_and_soft_targets():
    counts = [16, 1, 1]
    m = ldam_margins(counts)
    assert m.tolist() == pytest.approx([0.25, 0.5, 0.5])  # n^-1/4 scaled so the largest is 0.5
    z = [30 * (2 - 0.25), 0.0, -30.0]
    want = -(z[0] - lse(*z))
    assert ClassifierLoss("ldam", 0.0, counts)(Z, Y).item() == pytest.approx(want, abs=1e-4)
    soft = torch.tensor([[0.5, 0.5, 0.0]])  # margin weighted by the soft target: finite, no error
    zs = [30 * (2 - 0.125), 30 * (0 - 0.25), -30.0]
    want = -(0.5 * (zs[0] - lse(*zs)) + 0.5 * (zs[1] - lse(*zs)))
    assert ClassifierLoss("ldam", 0.0, counts)(Z, soft).item() == pytest.approx(want, abs=1e-4)


def test_drw_effective_number_weights_by_hand():
    beta, counts = 0.9, [10, 2]
    raw = [(1 - beta) / (1 - beta ** n) for n in counts]
    want = [r / sum(raw) * 2 for r in raw]
    assert class_weights(counts, beta).tolist() == pytest.approx(want, abs=1e-5)
    loss = ClassifierLoss("ce", 0.0)
    loss.set_weights(torch.tensor([2.0, 1.0, 1.0]))
    assert loss(Z, Y).item() == pytest.approx(2 * -(2 - lse(2, 0, -1)), rel=1e-6)


def test_mixup_mixes_soft_labels_with_the_image_lambda():
    np.random.seed(0)
    x = torch.stack([torch.full((3, 8, 8), float(i)) for i in range(4)])
    y = torch.eye(4)
    xm, ym = BatchMixer(1.0, 0.0, 4)(x.clone(), y.clone())
    lam = 1 - (xm[0, 0, 0, 0].item() - 0) / 3  # x0 = lam * 0 + (1 - lam) * 3
    assert torch.allclose(ym[0], torch.tensor([lam, 0, 0, 1 - lam]), atol=1e-5)
    assert torch.allclose(ym.sum(1), torch.ones(4))


def test_cutmix_labels_by_pasted_area():
    np.random.seed(1)
    x = torch.stack([torch.full((1, 10, 10), float(i)) for i in range(4)])
    xm, ym = BatchMixer(0.0, 1.0, 4)(x.clone(), torch.eye(4))
    for i in range(4):  # timm pairs sample i with sample 3 - i
        pasted = (xm[i] != i).float().mean().item()
        assert ym[i, i].item() == pytest.approx(1 - pasted, abs=1e-5)
        assert ym[i, 3 - i].item() == pytest.approx(pasted, abs=1e-5)
    assert not BatchMixer(0.0, 0.0, 4)


def test_replacement_rate_and_tail_weighted_sampling(tmp_path):
    split = {"classes": ["a", "b", "c"], "root": str(tmp_path),
             "items": [{"label": c, "path": "x"} for c in [0] * 8 + [1] * 3 + [2] * 1],
             "train": list(range(12))}
    rows = [{"source_class": s, "target_class": t, "strength": 0.5, "path": "p"}
            for s in range(3) for t in range(3) if s != t]
    ds = RealWithSynthetic(split, split["train"], None, rows, tmp_path, p=0.3, sampling="tail")
    rng_hits, targets = 0, Counter()
    for epoch in range(400):
        ds.set_epoch(epoch)
        for i in range(12):
            rng = np.random.default_rng([0, epoch, i])
            if rng.random() < 0.3:
                rng_hits += 1
                targets[rows[ds._draw_synthetic(rng)]["target_class"]] += 1
    assert rng_hits / 4800 == pytest.approx(0.3, abs=0.02)
    w = np.array([1 / 9, 1 / 4, 1 / 2])
    assert [targets[c] / sum(targets.values()) for c in range(3)] == pytest.approx(w / w.sum(), abs=0.03)
    kept = limit_targets(rows, 1, seed=0)
    assert len(kept) == 3 and len({r["source_class"] for r in kept}) == 3


def test_group_and_shot_accounting():
    items = [{"group": g} for g in ["landbird/land", "landbird/water", "waterbird/water", "waterbird/land"] * 2]
    pred = np.array([0, 1, 1, 0, 0, 0, 1, 1])
    labels = np.array([0, 0, 1, 1, 0, 0, 1, 1])
    r = breakdown(pred, labels, items)
    assert r["acc"] == 0.75 and r["group_acc"]["landbird/water"] == 0.5 and r["worst_group_acc"] == 0.5
    counts = [30, 10, 2]
    r = breakdown(np.array([0, 1, 0, 2]), np.array([0, 1, 2, 2]), [{}] * 4, counts, (20, 5))
    assert (r["many_acc"], r["medium_acc"], r["few_acc"]) == (1.0, 1.0, 0.5)
    assert r["shot_classes"] == {"many": 1, "medium": 1, "few": 1}
    assert r["class_acc"] == [1.0, 1.0, 0.5]  # per class, for the per-class figure
    assert breakdown(np.array([1]), np.array([1]), [{}], [5, 5, 5])["class_acc"] == [None, 1.0, None]
    assert shot_thresholds({"dataset": "flowers", "imbalance": 100.0}, None) == (30, 10)
    assert shot_thresholds({"dataset": "cub", "imbalance": None}, None) is None


def _baseline(workdir, **train_kw):
    return tiny_params(workdir, synthesize={"strategy": "none"},
                       train={"epochs": 3, "p": 0.0, "mixup": 0.5, **train_kw})


def test_resume_after_a_crash_ends_with_the_same_metrics(tmp_path, monkeypatch):
    whole = _baseline(tmp_path / "a")
    train.run_training(whole)
    crashed = _baseline(tmp_path / "b")
    real_checkpoint = train.stage._checkpoint

    def crash_after_first(out, model, optimizer, schedule, epoch, metrics):
        real_checkpoint(out, model, optimizer, schedule, epoch, metrics)
        if epoch == 1:
            raise KeyboardInterrupt("simulated kill after epoch 1")
    monkeypatch.setattr(train.stage, "_checkpoint", crash_after_first)
    with pytest.raises(KeyboardInterrupt):
        train.run_training(crashed)
    monkeypatch.setattr(train.stage, "_checkpoint", real_checkpoint)
    out = train.run_training(crashed)
    a = [json.loads(x) for x in (artifacts.train_dir(whole) / "metrics.jsonl").read_text().splitlines()]
    b = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    for ra, rb in zip(a, b, strict=True):
        for k in ("train_loss", "val_acc", "test_acc", "lr"):
            assert ra[k] == pytest.approx(rb[k], abs=1e-6), (k, ra, rb)


def test_long_tail_methods_run_end_to_end(tmp_path):
    p = _baseline(tmp_path, epochs=8, loss="ldam", reweight="drw", drw_epoch=4, cutmix=0.5, cmo=1.0,
                  shot_thresholds=[4.0, 2.0])
    p["data"].update({"imbalance": 4.0, "val_fraction": 0.2})
    out = train.run_training(p)
    result = json.loads((out / "result.json").read_text())
    assert result["loss"] == "ldam" and "test_many_acc_at_best_val" in result
    assert len((out / "metrics.jsonl").read_text().splitlines()) == 8


def test_unreadable_image_stops_naming_it_or_is_skipped_and_counted(tmp_path):
    p = _baseline(tmp_path, epochs=1)
    split = ensure_split(artifacts.split_path(p), p["data"], artifacts.store(p) / "datasets")
    victim = f"{split['root']}/{split['items'][split['train'][0]]['path']}"
    with open(victim, "wb") as fh:
        fh.write(b"garbage")
    with pytest.raises(DatasetError, match=f"{victim}' cannot be read.*skip_bad_images"):
        train.run_training(p)
    p["train"]["skip_bad_images"] = True
    result = json.loads((train.run_training(p) / "result.json").read_text())
    assert result["skipped_images"] == 1


def test_evaluation_batches_are_large_and_do_not_change_predictions():
    from torch.utils.data import DataLoader, TensorDataset
    from diffmix_utils.models.classifiers import create_classifier
    from diffmix_utils.train.evaluation import predict
    from diffmix_utils.train.stage import EVAL_BATCH, eval_batch_size
    assert eval_batch_size(8) == EVAL_BATCH and eval_batch_size(4 * EVAL_BATCH) == 4 * EVAL_BATCH
    torch.manual_seed(0)
    model = create_classifier("resnet18", 5, False)  # BatchNorm: eval mode scores each image alone
    model.train()(torch.randn(16, 3, 32, 32))  # running statistics that are not the initial ones
    data = TensorDataset(torch.randn(70, 3, 32, 32), torch.eye(5)[torch.arange(70) % 5])
    small, _ = predict(model, DataLoader(data, batch_size=8), "cpu")
    large, _ = predict(model, DataLoader(data, batch_size=eval_batch_size(8)), "cpu")
    assert (small == large).all() and len(set(small.tolist())) > 1
