"""Training stage: a timm classifier on real + synthetic images (``data``), with the paper's
baselines (Mixup / CutMix, ``mixing``), long-tail losses and re-weighting (``losses``), CMO, and
honest model selection on the val split (``evaluation``).

SGD with momentum, linear warmup then cosine decay stepped per batch over exactly the steps taken
(the reference's schedule missed its end, docs/differences.md, reference bug 27). Every epoch is evaluated. Each epoch
starts from RNG states seeded by (seed, epoch), so a run resumed after ``kill -9`` continues
exactly as an uninterrupted one (on CPU; GPU kernels may differ in the last bits).

Writes ``metrics.jsonl`` (one line per epoch), ``last.safetensors`` (weights), ``state.pt``
(optimizer and schedule, for resuming; loaded with ``weights_only=True``) and ``result.json``:
``val_acc`` and ``test_acc_at_best_val`` (the honest number: epoch chosen on val),
``test_acc_final``, and ``test_acc_best`` (the paper protocol: best test accuracy over epochs).
"""
from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file
from accelerate.utils import gather_object
from torch.utils.data import DataLoader, Subset

from .. import artifacts, locks, distributed, jobs, progress, provenance
from ..atomic import ArtifactError
from ..data.splits import class_counts
from ..distributed import split_evenly
from ..devices import job_threads, pick_device
from ..models.classifiers import classifier_transforms, create_classifier
from ..pool_rows import synthetic_rows
from .data import RealWithSynthetic
from .evaluation import breakdown, predict, shot_thresholds, summarize
from .losses import ClassifierLoss, class_weights
from .mixing import BatchMixer, MinorityCutMix

EVAL_BATCH = 64  # images per evaluation batch, at least (eval_batch_size)


def warmup_cosine(total_steps: int, warmup_fraction: float):
    warmup = max(1, int(warmup_fraction * total_steps)) if warmup_fraction > 0 else 0

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, total_steps - warmup)))
    return factor


def _seed_epoch(seed: int, epoch: int, rank: int = 0) -> None:
    """Global RNGs (timm Mixup / CutMix, CMO) from (seed, epoch, rank): resumable runs match."""
    torch.manual_seed(seed * 100003 + epoch + 7919 * rank)
    np.random.seed((seed * 100003 + epoch + 7919 * rank) % 2**32)


def _global_batches(n: int, batch: int, seed: int, epoch: int, rank: int, world: int) -> list[tuple[list[int], int]]:
    """(this rank's share, the global batch's size) for every global batch of the epoch's shuffled
    order (the same order for any number of processes); a last batch smaller than the number of
    processes is dropped."""
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed * 100003 + epoch)).tolist()
    batches = [order[k:k + batch] for k in range(0, n, batch)]
    return [(split_evenly(b, rank, world), len(b)) for b in batches if len(b) >= world]


def eval_batch_size(train_batch: int) -> int:
    """Evaluation batches: at least ``EVAL_BATCH`` images (no gradients are kept, so a larger batch
    costs little memory; a 1-shot run's train batch of 8 made evaluation most of its time). The
    batch does not change the predictions: the model is in eval mode, each image is scored alone."""
    return max(train_batch, EVAL_BATCH)


def _evaluate(model, parts: dict, split: dict, acc, counts: list[int], thresholds) -> dict:
    """Accuracy (and groups / shots) of each part; each process predicts a contiguous share."""
    row = {}
    for part, (dataset, batch, workers) in parts.items():
        share = split_evenly(list(range(len(dataset))), acc.process_index, acc.num_processes)
        loader = DataLoader(Subset(dataset, share), batch_size=batch, num_workers=workers)
        pred, labels = predict(model, loader, acc.device)
        if acc.num_processes > 1:
            pieces = gather_object([(pred, labels)])
            pred, labels = np.concatenate([q for q, _ in pieces]), np.concatenate([t for _, t in pieces])
        result = breakdown(pred, labels, [split["items"][i] for i in split[part]], counts, thresholds)
        row[f"{part}_acc"] = round(result.pop("acc"), 5)
        if part == "test":
            row.update({f"test_{k}": v for k, v in result.items()})
    return row


def run_training(p: dict) -> Path:
    """Train one classifier for parameter set ``p`` (one sweep member); returns its folder."""
    out = artifacts.train_dir(p)
    if artifacts.is_done(out):
        progress.already_complete("training", out)
        return out
    with job_threads(p):
        return locks.once(out, "training", lambda: _train_classifier(p, out))


def _train_classifier(p: dict, out: Path) -> Path:
    tr = p["train"]
    out.mkdir(parents=True, exist_ok=True)
    split = artifacts.open_split(p)
    device = pick_device(p["device"])
    count = distributed.wanted_processes(tr["num_processes"], device, "train")
    if count > 1:
        return distributed.launch("train", p, count, out, out)
    acc = distributed.make_accelerator(device, "fp16" if tr["amp"] else "no")
    rank, world, device = acc.process_index, acc.num_processes, acc.device
    distributed.global_batch_share(tr["batch_size"], world, "train")
    torch.manual_seed(p["seed"])
    train_tf, eval_tf = classifier_transforms(tr["image_size"])
    synthetic, root = synthetic_rows(p)
    train_set = RealWithSynthetic(split, split["train"], train_tf, synthetic, root, tr["p"], tr["gamma"],
                                  tr["kappa"], p["seed"], tr["synthetic_sampling"], tr["skip_bad_images"],
                                  tr["label_toward"])
    evals = {part: (RealWithSynthetic(split, split[part], eval_tf), eval_batch_size(tr["batch_size"]),
                    tr["num_workers"]) for part in ("val", "test") if split[part]}
    counts, num_classes = class_counts(split), len(split["classes"])
    thresholds = shot_thresholds(p["data"], tr["shot_thresholds"])
    model = create_classifier(tr["backbone"], num_classes, tr["pretrained"], tr["model_kwargs"],
                              tr["weights"]).to(device)
    channels_last = tr["amp"] and device.type == "cuda"  # fp16 autocast + loss scaling by accelerate
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    if world > 1 and device.type == "cuda":  # batch statistics over the global batch, as one process
        model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
    optimizer = torch.optim.SGD(model.parameters(), lr=tr["lr"], momentum=tr["momentum"],
                                weight_decay=tr["weight_decay"])
    steps_per_epoch = len(_global_batches(len(train_set), tr["batch_size"], 0, 0, 0, world))
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, warmup_cosine(tr["epochs"] * steps_per_epoch, tr["warmup_fraction"]))
    loss_fn = ClassifierLoss(tr["loss"], tr["label_smoothing"], counts).to(device)
    drw_epoch = {"none": None, "cb": 0, "drw": tr["drw_epoch"] if tr["drw_epoch"] is not None
                 else int(0.8 * tr["epochs"])}[tr["reweight"]]
    mixer = BatchMixer(tr["mixup"], tr["cutmix"], num_classes, tr["mix_alpha"])
    cmo = (MinorityCutMix(train_set, counts, tr["cmo"], tr["batch_size"] // world, tr["epochs"],
                          p["seed"] + 7919 * rank) if tr["cmo"] else None)

    metrics, first_epoch = _resume(out, model, optimizer, schedule, device, rank)
    wrapped, optimizer = acc.prepare(model, optimizer)  # DDP when world > 1; AMP on CUDA

    for epoch in progress.bar(range(first_epoch, tr["epochs"]), desc="train", unit="epoch",
                      initial=first_epoch, total=tr["epochs"], disable=not acc.is_main_process):
        start = time.time()
        _seed_epoch(p["seed"], epoch, rank)
        wrapped.train()
        train_set.set_epoch(epoch)
        loss_fn.set_weights(class_weights(counts, tr["reweight_beta"]).to(device)
                            if drw_epoch is not None and epoch >= drw_epoch else None)
        shares, global_sizes = zip(*_global_batches(len(train_set), tr["batch_size"], p["seed"], epoch, rank, world))
        loader = DataLoader(train_set, batch_sampler=list(shares), num_workers=tr["num_workers"])
        minority = cmo.batches(epoch) if cmo else None
        totals = torch.zeros(4, dtype=torch.float64)  # loss sum, items, synthetic items, skipped images
        for (x, y, is_syn, skip), global_size in zip(loader, global_sizes):
            x, y = x.to(device), y.to(device)
            if mixer:
                x, y = mixer(x, y)
            if minority is not None:
                x, y = cmo.mix(x, y, next(minority))
            loss = loss_fn(wrapped(x.contiguous(memory_format=torch.channels_last) if channels_last else x).float(), y)
            optimizer.zero_grad(set_to_none=True)
            # DDP averages the ranks' gradients; weighting by share size makes that the global batch's mean
            acc.backward(loss * (len(y) * world / global_size))
            optimizer.step()
            schedule.step()
            totals += torch.tensor([loss.item() * len(y), len(y), float(is_syn.sum()), float(skip.sum())],
                                   dtype=torch.float64)
        total_loss, n, n_syn, skipped = acc.reduce(totals.to(device), "sum").tolist()  # over ranks
        row = {"epoch": epoch + 1, "train_loss": round(total_loss / n, 5), "synthetic_fraction": round(n_syn / n, 4),
               "lr": optimizer.param_groups[0]["lr"], "seconds": round(time.time() - start, 2),
               "skipped_images": int(skipped)}
        evaluate = (epoch + 1) % tr["eval_every"] == 0 or epoch + 1 == tr["epochs"]
        if evaluate:
            row.update(_evaluate(model, evals, split, acc, counts, thresholds))
        metrics.append(row)
        if acc.is_main_process and evaluate:  # a resume restarts after the last evaluated epoch
            _checkpoint(out, model, optimizer, schedule, epoch + 1, metrics)
        acc.wait_for_everyone()

    if not acc.is_main_process:
        return out
    return _publish(p, out, metrics, synthetic, split, device)


def _resume(out: Path, model, optimizer, schedule, device, rank: int) -> tuple[list[dict], int]:
    """(the metrics rows kept, the epoch to start at): from the last evaluated epoch's ``state.pt`` when
    there is one (model, optimizer and schedule loaded in place), else ([], 0)."""
    metrics, first_epoch = [], 0
    if (out / "state.pt").is_file() and (out / "metrics.jsonl").is_file():
        try:
            state = torch.load(out / "state.pt", map_location=device, weights_only=True)
        except Exception as exc:  # truncated or not a torch file
            raise ArtifactError(f"{str(out / 'state.pt')!r} cannot be resumed from ({type(exc).__name__}); delete "
                                "it to restart this run from epoch 0, or delete the folder") from None
        metrics = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()][:state["epoch"]]
        if len(metrics) < state["epoch"]:  # stopped between the two writes by a version that wrote state first
            raise ArtifactError(f"{str(out / 'metrics.jsonl')!r} has {len(metrics)} rows but {str(out / 'state.pt')!r} "
                                f"is at epoch {state['epoch']}; delete both to restart this run from epoch 0")
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        schedule.load_state_dict(state["schedule"])
        first_epoch = state["epoch"]
        print(f"rank {rank}: resuming {out} at epoch {first_epoch}")
    return metrics, first_epoch


def _publish(p: dict, out: Path, metrics: list[dict], synthetic: list[dict], split: dict, device) -> Path:
    """``result.json`` (the epoch chosen on validation and its accuracies, with the settings that made
    them), ``provenance.json``, then the done marker."""
    tr = p["train"]
    result = summarize(metrics)
    result.update({"member": p.get("member", "main"), "strategy": p["synthesize"]["strategy"],
                   "strength": p["synthesize"]["strength"], "seed": p["seed"], "p": tr["p"],
                   "strengths": sorted({row["strength"] for row in synthetic}),  # what the images were made at
                   "gamma": tr["gamma"], "label_toward": tr["label_toward"], "backbone": tr["backbone"], "image_size": tr["image_size"],
                   "model_kwargs": tr["model_kwargs"], "weights": tr["weights"],
                   "num_train": len(split["train"]),
                   "num_synthetic": len(synthetic), "loss": tr["loss"], "reweight": tr["reweight"],
                   "mixup": tr["mixup"], "cutmix": tr["cutmix"], "cmo": tr["cmo"],
                   "skipped_images": max(m.get("skipped_images", 0) for m in metrics)})
    artifacts.write_json(out / "result.json", result)
    provenance.write(out, p, device, "fp16 autocast" if tr["amp"] and device.type == "cuda" else "fp32")
    artifacts.mark_done(out, {"epochs": tr["epochs"]})
    return out


def _checkpoint(out: Path, model, optimizer, schedule, epoch: int, metrics: list[dict]) -> None:
    """The epoch's files, ``state.pt`` last: it is the commit point a resume starts from, so a run
    stopped between two of these writes resumes with every row of ``metrics.jsonl`` it needs."""
    artifacts.write_text(out / "metrics.jsonl", "".join(json.dumps(m) + "\n" for m in metrics))
    weights = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    artifacts.atomic_write(out / "last.safetensors", lambda t: save_file(weights, str(t)))
    state = {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
             "schedule": schedule.state_dict(), "epoch": epoch}
    artifacts.atomic_write(out / "state.pt", lambda t: torch.save(state, t))


def run_stage(p: dict, before_filter: bool = False) -> list:
    """Train every member that needs its own folder, those that read no filtered pool first (with the
    baselines the classifier filter scores with); ``before_filter``: only those."""
    todo = jobs.stage_jobs(p, "train")
    return [run_training(m) for m in progress.members(
        [m for m in todo if not before_filter or artifacts.filter_dir(m) is None], "train")]
