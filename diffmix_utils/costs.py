"""What a parameter file will cost, before anything runs (``run --plan``).

Work is counted exactly (fine-tune steps x images, synthetic images per strength, classifier
image-passes); the training-set size comes from the split file when it exists, else from the
dataset's files when its folder exists, else from its nominal size, marked "≈". Compute is counted in FLOPs with
``torch.utils.flop_counter`` on meta tensors (no weights, no download): the UNet / VAE of the run's
base model (its config, or SD-1.5's written in code) and the timm backbone. Time is then given as:
- a lower bound: FLOPs at 100 % of an H100's dense bf16 peak (989 TFLOP/s). Real runs are slower;
  no GPU throughput has been measured by the kit yet (``diffmix_utils/assets/measured_throughput.yaml``);
- synthesis at the authors' own measured rate (dev notebook, unnamed GPU, SD-1.5 at 512 px);
- the bundled tiny model at the rates measured on the 2-core CPU the kit was built on.
Fine-tuning counts forward + backward as 2x forward (frozen base weights), training as 3x.
"""
from __future__ import annotations

import json
import math
from functools import lru_cache
from pathlib import Path

import yaml

from . import artifacts, jobs
from .data.splits import longtail_counts
from .strategies import get_strategy, pool_size

H100_PEAK = 989e12
ASSETS = Path(__file__).parent / "assets"
NOMINAL_SIZES = {"cub": (200, 5994, 5794), "aircraft": (100, 3334, 3333), "flowers": (102, 1020, 6149),
                 "cars": (196, 8144, 8041), "dogs": (120, 12000, 8580), "pet": (37, 3680, 3669),
                 "waterbirds": (200, 5994, 5794), "voc": (20, 1464, 1449)}
NOMINAL_BY_OPTION = {("flowers", "reference-5050"): (102, 4070, 4119), ("aircraft", "trainval"): (100, 6667, 3333)}


def measured() -> dict:
    return yaml.safe_load((ASSETS / "measured_throughput.yaml").read_text())


def _configs(base: str, revision: str | None = None) -> tuple[dict, dict, str]:
    """(unet config, vae config, where they came from) without loading weights."""
    from .models import sd15_config, tiny_sd
    folder = None
    if base == "bundled:tiny-sd":
        folder = tiny_sd.BUNDLED_DIR
    elif Path(base).expanduser().is_dir():
        folder = Path(base).expanduser()
    else:
        try:
            from huggingface_hub import try_to_load_from_cache
            found = try_to_load_from_cache(base, "unet/config.json", revision=revision)
            folder = Path(found).parent.parent if isinstance(found, str) else None
        except Exception:
            folder = None
    if folder is not None and (folder / "unet" / "config.json").is_file():
        return (json.loads((folder / "unet" / "config.json").read_text()),
                json.loads((folder / "vae" / "config.json").read_text()), f"config of {base}")
    return sd15_config.UNET, sd15_config.VAE, f"SD-1.5 architecture (written in code; {base} not available here)"


@lru_cache(maxsize=None)
def _diffusion_flops(unet_json: str, vae_json: str, resolution: int) -> dict:
    import torch
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from torch.utils.flop_counter import FlopCounterMode
    ucfg, vcfg = json.loads(unet_json), json.loads(vae_json)
    with torch.device("meta"):
        unet, vae = UNet2DConditionModel.from_config(ucfg), AutoencoderKL.from_config(vcfg)
    factor = 2 ** (len(vcfg.get("block_out_channels", [0] * 4)) - 1)
    z = resolution // factor
    hidden = ucfg.get("cross_attention_dim", 768)
    out = {}
    with FlopCounterMode(display=False) as fc:
        unet(torch.empty(2, ucfg.get("in_channels", 4), z, z, device="meta"),
             torch.zeros(2, dtype=torch.long, device="meta"), torch.empty(2, 77, hidden, device="meta"))
    out["unet_pair"] = fc.get_total_flops()
    with FlopCounterMode(display=False) as fc:
        vae.encode(torch.empty(1, 3, resolution, resolution, device="meta"))
    out["encode"] = fc.get_total_flops()
    with FlopCounterMode(display=False) as fc:
        vae.decode(torch.empty(1, vcfg.get("latent_channels", 4), z, z, device="meta"))
    out["decode"] = fc.get_total_flops()
    return out


def config_flops(unet_config: dict, vae_config: dict, resolution: int) -> dict:
    """FLOPs of one UNet pass of a CFG pair (``unet_pair``), one VAE ``encode`` and one ``decode``."""
    return _diffusion_flops(json.dumps(unet_config, sort_keys=True, default=list),
                            json.dumps(vae_config, sort_keys=True, default=list), resolution)


def diffusion_flops(base: str, resolution: int, revision: str | None = None) -> tuple[dict, str]:
    ucfg, vcfg, source = _configs(base, revision)
    return config_flops(ucfg, vcfg, resolution), source


def image_flops(diff: dict, steps: int, strength: float, guidance: float, img2img: bool) -> float:
    """FLOPs of one synthetic image: int(steps x s) denoising passes for img2img (all ``steps`` for
    text-to-image), the CFG pair when guidance > 1, the decode, and the encode of an img2img source."""
    passes = int(steps * strength) if img2img else steps
    per_pass = diff["unet_pair"] if guidance > 1 else diff["unet_pair"] / 2
    return passes * per_pass + diff["decode"] + (diff["encode"] if img2img else 0)


@lru_cache(maxsize=None)
def classifier_flops(backbone: str, size: int, num_classes: int, kwargs_json: str = "{}",
                     weights: str | None = None) -> int:
    """Forward FLOPs of one image through the backbone (timm, or torchvision:<name> with ``weights``)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from .models.classifiers import create_classifier
    with torch.device("meta"):
        model = create_classifier(backbone, num_classes, False, json.loads(kwargs_json), weights)
        model.eval()  # eval: BatchNorm takes a 1x1 map
        with FlopCounterMode(display=False) as fc:
            model(torch.empty(1, 3, size, size))
    return fc.get_total_flops()


def split_sizes(p: dict) -> tuple[int, int, int, bool]:
    """(classes, train images, val + test images, exact?) of the member's split: from the split file
    when it exists; else, for a dataset on disk, from its files (the split is drawn in memory, as the
    fine-tune will draw it; no image is opened); else from the dataset's nominal size."""
    path = artifacts.split_path(p)
    if path.is_file():
        s = json.loads(path.read_text())
        return len(s["classes"]), len(s["train"]), len(s["val"]) + len(s["test"]), True
    d = p["data"]
    counted = _counted_split(json.dumps(d, sort_keys=True), str(artifacts.store(p) / "datasets"))
    if counted:
        return counted
    if d["dataset"] == "toybirds":
        c, per, test = d["num_classes"], d["train_per_class"], d["test_per_class"]
    elif d["dataset"] in NOMINAL_SIZES:
        c, n, t = NOMINAL_SIZES[d["dataset"]]
        option = (d["dataset"], (d.get("options") or {}).get("split") or (d.get("options") or {}).get("train_split"))
        c, n, t = NOMINAL_BY_OPTION.get(option, (c, n, t))
        per, test = n / c, t / c
    else:
        return 0, 0, 0, False
    val = math.ceil(d["val_fraction"] * per) if d["val_fraction"] else 0
    rest = max(1, int(per) - val)
    if d["shots"] is not None:
        train = c * min(d["shots"], rest)
    elif d["imbalance"] is not None:
        train = sum(longtail_counts([rest] * c, d["imbalance"], d["longtail_formula"]))
    else:
        train = c * rest
    return c, train, round(c * (val + test)), False


@lru_cache(maxsize=16)  # every member of a sweep shares its data section
def _counted_split(data_json: str, cache_dir: str) -> tuple[int, int, int, bool] | None:
    """Split sizes of a dataset whose folder exists, counted from its index files or folders; None for
    toybirds (rendered by the kit), a folder not there yet, or one that does not read as its layout
    (the fine-tune will say why)."""
    from .data import create_dataset
    from .data.common import DatasetError
    from .data.splits import make_split
    d = json.loads(data_json)
    if d["dataset"] == "toybirds" or not d["root"] or not Path(d["root"]).expanduser().is_dir():
        return None
    try:
        ds = create_dataset(d["dataset"], d["root"], Path(cache_dir), {**d, "download": False})
        split = make_split(ds.items, ds.classes, d)
    except (DatasetError, OSError, ValueError):
        return None
    return len(ds.classes), len(split["train"]), len(split["val"]) + len(split["test"]), True


def _rate(table: dict, s: float) -> float:
    """Linear interpolation of a {strength: rate} table."""
    xs = sorted(table)
    if s <= xs[0] or s >= xs[-1]:
        return table[xs[0] if s <= xs[0] else xs[-1]]
    hi = next(x for x in xs if x >= s)
    lo = max(x for x in xs if x <= s)
    return table[lo] if hi == lo else table[lo] + (table[hi] - table[lo]) * (s - lo) / (hi - lo)


def _flop(x: float) -> str:
    for unit, scale in (("PFLOP", 1e15), ("TFLOP", 1e12), ("GFLOP", 1e9)):
        if x >= scale:
            return f"{x / scale:,.1f} {unit}"
    return f"{x:,.0f} FLOP"


def member_flops(stage: str, m: dict) -> float:
    """FLOPs of one job of ``stage`` for member ``m``: a fine-tune (forward + backward as 2x forward,
    plus the VAE encode), a pool (each image's img2img or text-to-image steps), a classifier (3x forward
    per training image-pass, 1x per evaluated image); a filter counts 0 (it scores a pool once)."""
    if stage in ("finetune", "synthesize"):
        diff, _ = diffusion_flops(m["model"]["base"], m["model"]["resolution"], m["model"]["revision"])
    if stage == "finetune":
        return m["finetune"]["steps"] * m["finetune"]["batch_size"] * (diff["unet_pair"] + diff["encode"])
    if stage == "synthesize":
        sy, strategy = m["synthesize"], get_strategy(m["synthesize"]["strategy"])
        if sy["strategy"] == "none" or strategy.control:  # the controls run no model
            return 0.0
        n, strengths = pool_size(sy, split_sizes(m)[1]), sy["strength_choices"] or [sy["strength"]]
        return sum(n / len(strengths) * image_flops(diff, sy["steps"], s, sy["guidance"], strategy.img2img)
                   for s in strengths)
    if stage == "train":
        c, n_train, n_eval, _ = split_sizes(m)
        tr = m["train"]
        fwd = classifier_flops(tr["backbone"], tr["image_size"], max(c, 2),
                               json.dumps(tr["model_kwargs"], sort_keys=True), tr["weights"])
        return tr["epochs"] * fwd * (3 * n_train + n_eval)
    return 0.0


def estimate(p: dict, by_stage: dict[str, list[dict]] | None = None) -> list[str]:
    """Lines for ``--plan``: work and compute per stage, and the time figures described above.
    ``by_stage``: each stage's jobs (members), from the one job graph ``--plan`` builds."""
    by_stage = by_stage or {s: jobs.stage_jobs(p, s) for s in ("finetune", "synthesize", "train")}
    rates, lines, flops, exact = measured(), [], {}, True
    base, res = p["model"]["base"], p["model"]["resolution"]
    diff, source = diffusion_flops(base, res, p["model"]["revision"])

    ft_images = sum(m["finetune"]["steps"] * m["finetune"]["batch_size"] for m in by_stage["finetune"])
    flops["finetune"] = sum(member_flops("finetune", m) for m in by_stage["finetune"])

    shares, syn_flops = [], 0.0  # (images, strength) of every pool's strengths (expand_sweep set t2i to 1)
    for m in by_stage["synthesize"]:
        _, n_train, _, ok = split_sizes(m)
        exact &= ok
        n, sy = pool_size(m["synthesize"], n_train), m["synthesize"]
        strategy = get_strategy(sy["strategy"])
        if strategy.control:  # the controls run no model
            continue
        strengths = sy["strength_choices"] or [sy["strength"]]
        shares += [(n / len(strengths), s) for s in strengths]
        syn_flops += member_flops("synthesize", m)
    syn_images = round(sum(n for n, _ in shares))
    flops["synthesize"] = syn_flops

    passes, train_flops = 0, 0.0
    for m in by_stage["train"]:
        _, n_train, _, ok = split_sizes(m)
        exact &= ok
        train_flops += member_flops("train", m)
        passes += m["train"]["epochs"] * n_train
    flops["train"] = train_flops

    approx = "" if exact else "≈"
    lines.append(f"cost ({approx}counts; diffusion FLOPs from the {source} at {res} px):")
    lines.append(f"  finetune   {approx}{ft_images:,} image-steps, {_flop(flops['finetune'])}")
    lines.append(f"  synthesize {approx}{syn_images:,} images, {_flop(flops['synthesize'])}")
    lines.append(f"  train      {approx}{passes:,} training image-passes, {_flop(flops['train'])}")
    total = sum(flops.values())
    lines.append(f"  lower bound: {total / H100_PEAK / 3600:,.2f} GPU-hours at 100 % of an H100's dense bf16 peak "
                 "(no GPU throughput measured by the kit yet; real runs are slower)")
    if syn_images and res == 512 and base != "bundled:tiny-sd":
        ref = {float(k): v for k, v in rates["reference_synthesis_images_per_gpu_hour"]["by_strength"].items()}
        ref_hours = sum(n / _rate(ref, s) for n, s in shares)
        src = rates["reference_synthesis_images_per_gpu_hour"]["source"]
        lines.append(f"  synthesis at the authors' measured rate ({src}): "
                     f"{ref_hours:,.1f} GPU-hours")
    cpu = rates.get("bundled_tiny_sd_cpu", {})
    if base == "bundled:tiny-sd" and cpu:
        ft_s = ft_images / (cpu["finetune_images_per_second"])
        table = {float(k): v for k, v in cpu["synthesis_images_per_second"].items()}
        syn_s = sum(n / _rate(table, s) for n, s in shares)
        lines.append(f"  on the kit's 2-core CPU (measured, {cpu['source']}): fine-tune ≈{ft_s / 60:.1f} min, "
                     f"synthesis ≈{syn_s / 60:.1f} min")
    return lines


PNG_BYTES_PER_PIXEL = 1.5  # a synthetic photo as PNG: about half of its 3 raw bytes per pixel


def pool_bytes(p: dict, pools: list[dict] | None = None) -> tuple[int, float]:
    """(images, bytes) the parameter set's pools not yet on disk will take, from the split file or the
    dataset's nominal size; an image is counted at ``model.resolution`` squared (the source's size,
    which the pool keeps, is unknown before the split)."""
    images = 0
    for m in jobs.stage_jobs(p, "synthesize") if pools is None else pools:
        if not artifacts.is_done(artifacts.synthesis_dir(m)):
            images += pool_size(m["synthesize"], split_sizes(m)[1])
    return images, images * p["model"]["resolution"] ** 2 * PNG_BYTES_PER_PIXEL


def disk_problem(p: dict) -> str | None:
    """Why the planned pools would not fit on the disk of ``workdir`` (None when they fit)."""
    import shutil
    images, need = pool_bytes(p)
    folder = Path(p["workdir"]).expanduser().resolve()
    while not folder.exists():
        folder = folder.parent
    free = shutil.disk_usage(folder).free
    if need <= free:
        return None
    largest = max((m["synthesize"]["multiplier"] for m in jobs.stage_jobs(p, "synthesize")), default=0)
    return (f"synthesize.multiplier = {largest:g}: the planned pools hold ≈{images:,} images, "
            f"≈{need / 1e9:,.1f} GB at {p['model']['resolution']} px, but {folder} has {free / 1e9:,.1f} GB free; "
            "lower the multiplier or point workdir at a larger disk")
