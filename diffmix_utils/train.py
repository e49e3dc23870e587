"""Training stage: a timm classifier on real + synthetic images (``train_data``), with the
paper's baselines (Mixup / CutMix, ``mixing``), long-tail losses and re-weighting (``losses``),
CMO, and honest model selection on the val split (``evaluation``).

SGD with momentum, linear warmup then cosine decay stepped per batch over exactly the steps taken
(the reference's schedule missed its end, spec G.1 item 27). Every epoch is evaluated. Each epoch
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
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from . import artifacts
from .data import ensure_split
from .data.splits import class_counts
from .evaluation import breakdown, predict, shot_thresholds, summarize
from .losses import ClassifierLoss, class_weights
from .mixing import BatchMixer, MinorityCutMix
from .models.base import pick_device
from .models.classifiers import classifier_transforms, create_classifier
from .train_data import RealWithSynthetic, limit_targets


def warmup_cosine(total_steps: int, warmup_fraction: float):
    warmup = max(1, int(warmup_fraction * total_steps)) if warmup_fraction > 0 else 0

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, total_steps - warmup)))
    return factor


def synthetic_rows(p: dict) -> tuple[list[dict], Path | None]:
    """The synthetic pool rows training draws from (kept by the filter, K-limited) and their folder."""
    folder = artifacts.synthesis_dir(p)
    if folder is None or p["train"]["p"] == 0:
        return [], None
    if not artifacts.is_done(folder):
        raise FileNotFoundError(f"the synthetic pool {folder} is not complete: run the synthesize stage first")
    kept = [r for r in artifacts.read_manifest(folder) if r.get("kept", 1)]  # a filter's rejects stay on disk
    return limit_targets(kept, p["train"]["target_classes_per_source"], p["seed"]), folder


def _seed_epoch(seed: int, epoch: int) -> None:
    """Global RNGs (torchvision transforms, timm Mixup) from (seed, epoch): resumable runs match."""
    torch.manual_seed(seed * 100003 + epoch)
    np.random.seed((seed * 100003 + epoch) % 2**32)


def _evaluate(model, loaders: dict, split: dict, device: str, counts: list[int], thresholds) -> dict:
    row = {}
    for part, loader in loaders.items():
        pred, labels = predict(model, loader, device)
        result = breakdown(pred, labels, [split["items"][i] for i in split[part]], counts, thresholds)
        row[f"{part}_acc"] = round(result.pop("acc"), 5)
        if part == "test":
            row.update({f"test_{k}": v for k, v in result.items()})
    return row


def run_training(p: dict) -> Path:
    """Train one classifier for parameter set ``p`` (one sweep member); returns its folder."""
    out, tr = artifacts.train_dir(p), p["train"]
    if artifacts.is_done(out):
        print(f"training already complete: {out}")
        return out
    out.mkdir(parents=True, exist_ok=True)
    split = ensure_split(artifacts.split_path(p), p["data"], artifacts.store(p) / "datasets")
    device = pick_device(p["device"])
    torch.manual_seed(p["seed"])
    train_tf, eval_tf = classifier_transforms(tr["image_size"])
    synthetic, root = synthetic_rows(p)
    train_set = RealWithSynthetic(split, split["train"], train_tf, synthetic, root, tr["p"], tr["gamma"],
                                  tr["kappa"], p["seed"], tr["synthetic_sampling"], tr["skip_bad_images"])
    evals = {part: DataLoader(RealWithSynthetic(split, split[part], eval_tf), batch_size=tr["batch_size"],
                              num_workers=tr["num_workers"]) for part in ("val", "test") if split[part]}
    counts, num_classes = class_counts(split), len(split["classes"])
    thresholds = shot_thresholds(p["data"], tr["shot_thresholds"])
    model = create_classifier(tr["backbone"], num_classes, tr["pretrained"]).to(device)
    amp = tr["amp"] and device.startswith("cuda")  # fp16 autocast + loss scaling, channels_last
    if amp:
        model = model.to(memory_format=torch.channels_last)
    scaler = torch.amp.GradScaler("cuda", enabled=amp)
    optimizer = torch.optim.SGD(model.parameters(), lr=tr["lr"], momentum=tr["momentum"],
                                weight_decay=tr["weight_decay"])
    steps_per_epoch = math.ceil(len(train_set) / tr["batch_size"])
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, warmup_cosine(tr["epochs"] * steps_per_epoch, tr["warmup_fraction"]))
    loss_fn = ClassifierLoss(tr["loss"], tr["label_smoothing"], counts).to(device)
    drw_epoch = {"none": None, "cb": 0, "drw": tr["drw_epoch"] if tr["drw_epoch"] is not None
                 else int(0.8 * tr["epochs"])}[tr["reweight"]]
    mixer = BatchMixer(tr["mixup"], tr["cutmix"], num_classes, tr["mix_alpha"])
    cmo = MinorityCutMix(train_set, counts, tr["cmo"], tr["batch_size"], tr["epochs"], p["seed"]) if tr["cmo"] else None

    # --- resume from the last finished epoch ------------------------------------------------------
    metrics, first_epoch = [], 0
    if (out / "state.pt").is_file() and (out / "metrics.jsonl").is_file():
        state = torch.load(out / "state.pt", map_location=device, weights_only=True)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        schedule.load_state_dict(state["schedule"])
        metrics = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()][:state["epoch"]]
        first_epoch = state["epoch"]
        print(f"resuming {out} at epoch {first_epoch}")

    for epoch in tqdm(range(first_epoch, tr["epochs"]), desc="train", unit="epoch",
                      initial=first_epoch, total=tr["epochs"]):
        start = time.time()
        _seed_epoch(p["seed"], epoch)
        model.train()
        train_set.set_epoch(epoch)
        loss_fn.set_weights(class_weights(counts, tr["reweight_beta"]).to(device)
                            if drw_epoch is not None and epoch >= drw_epoch else None)
        loader = DataLoader(train_set, batch_size=tr["batch_size"], shuffle=True, num_workers=tr["num_workers"],
                            generator=torch.Generator().manual_seed(p["seed"] * 100003 + epoch))
        minority = cmo.batches(epoch) if cmo else None
        total_loss = n = n_syn = skipped = 0
        for x, y, is_syn, skip in loader:
            x, y = x.to(device), y.to(device)
            if mixer:
                x, y = mixer(x, y)
            if minority is not None:
                x, y = cmo.mix(x, y, next(minority))
            with torch.autocast("cuda", dtype=torch.float16, enabled=amp):
                loss = loss_fn(model(x.contiguous(memory_format=torch.channels_last) if amp else x).float(), y)
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            schedule.step()
            total_loss, n, n_syn = total_loss + loss.item() * len(y), n + len(y), n_syn + int(is_syn.sum())
            skipped += int(skip.sum())
        row = {"epoch": epoch + 1, "train_loss": round(total_loss / n, 5), "synthetic_fraction": round(n_syn / n, 4),
               "lr": optimizer.param_groups[0]["lr"], "seconds": round(time.time() - start, 2),
               "skipped_images": skipped}
        row.update(_evaluate(model, evals, split, device, counts, thresholds))
        metrics.append(row)
        _checkpoint(out, model, optimizer, schedule, epoch + 1, metrics)

    result = summarize(metrics)
    result.update({"member": p.get("member", "main"), "strategy": p["synthesize"]["strategy"],
                   "strength": p["synthesize"]["strength"], "seed": p["seed"], "p": tr["p"],
                   "gamma": tr["gamma"], "backbone": tr["backbone"], "image_size": tr["image_size"],
                   "num_train": len(split["train"]),
                   "num_synthetic": len(synthetic), "loss": tr["loss"], "reweight": tr["reweight"],
                   "mixup": tr["mixup"], "cutmix": tr["cutmix"], "cmo": tr["cmo"],
                   "skipped_images": max(m.get("skipped_images", 0) for m in metrics)})
    artifacts.write_json(out / "result.json", result)
    artifacts.mark_done(out, {"epochs": tr["epochs"]})
    return out


def _checkpoint(out: Path, model, optimizer, schedule, epoch: int, metrics: list[dict]) -> None:
    weights = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    artifacts.atomic_write(out / "last.safetensors", lambda t: save_file(weights, str(t)))
    state = {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
             "schedule": schedule.state_dict(), "epoch": epoch}
    artifacts.atomic_write(out / "state.pt", lambda t: torch.save(state, t))
    artifacts.write_text(out / "metrics.jsonl", "".join(json.dumps(m) + "\n" for m in metrics))


def run_stage(p: dict) -> list:
    """Run this stage for every sweep member that needs its own artifact folder."""
    return [run_training(m) for m in artifacts.stage_jobs(p, "train")]
