"""Fetch what a parameter file needs on a connected machine, for compute nodes without internet.

    python -m diffmix_utils.fetch params/paper/fewshot_cub.yaml            # into the standard caches
    python -m diffmix_utils.fetch params/paper/fewshot_cub.yaml --to DIR   # into DIR, to copy to a cluster
    python -m diffmix_utils.fetch params/paper/fewshot_cub.yaml --plan     # what is missing here; fetches nothing

What a file needs: the base model at its ``model.revision`` (the diffusers components), the CLIP
model of a ``clip`` filter, the pretrained classifier weights (timm's hub files, or torchvision's
weight file) and the datasets torchvision can download (``data.download``). Everything goes to the
standard caches (``HF_HUB_CACHE``, ``TORCH_HOME``) or, with ``--to DIR``, to ``DIR/huggingface/hub``
and ``DIR/torch``, which a job points at with ``HF_HUB_CACHE`` / ``TORCH_HOME``. A lock file lists
each item with the revision it resolved to and the sha256 of every file. Downloading is a thin call
to ``huggingface_hub`` / ``torch.hub``; the runner calls ``missing`` before any work, so a compute
node without an item stops with one error naming it and this command.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from . import params

# the diffusers components a Stable Diffusion pipeline loads (no safety checker, no .ckpt / fp16 copies)
DIFFUSERS_FILES = ["model_index.json", "scheduler/*", "tokenizer/*", "text_encoder/config.json",
                   "text_encoder/model.safetensors", "unet/config.json", "unet/diffusion_pytorch_model.safetensors",
                   "vae/config.json", "vae/diffusion_pytorch_model.safetensors", "feature_extractor/*"]
CLIP_FILES = ["*.json", "*.txt", "model.safetensors"]


@dataclass
class Item:
    kind: str                       # base model | clip filter | classifier (timm) | classifier (torchvision) | dataset
    name: str                       # hub id, weight URL or dataset name
    revision: str | None = None
    files: list[str] = field(default_factory=list)  # hub: allow patterns; torchvision: the file name
    keys: list[str] = field(default_factory=list)   # the parameter keys that ask for it
    data: dict = field(default_factory=dict)         # dataset: the member's data section

    def label(self) -> str:
        return f"{self.kind} {self.name}" + (f" @ {self.revision}" if self.revision else "")


def _is_hub_id(name: str) -> bool:
    return not name.startswith("bundled:") and not Path(name).expanduser().exists()


def needs(p: dict) -> list[Item]:
    """Every download the parameter set's members need, once each."""
    from .data.registry import LAYOUTS
    found: dict[tuple, Item] = {}

    def add(item: Item, key: str) -> None:
        found.setdefault((item.kind, item.name, item.revision), item).keys.append(key)

    for m in params.expand_sweep(p):
        if _is_hub_id(m["model"]["base"]):
            add(Item("base model", m["model"]["base"], m["model"]["revision"], DIFFUSERS_FILES), "model.base")
        if m["filter"]["scorer"] == "clip" and _is_hub_id(m["filter"]["model"]):
            add(Item("clip filter", m["filter"]["model"], None, CLIP_FILES), "filter.model")
        tr = m["train"]
        if tr["pretrained"]:
            add(classifier_item(tr["backbone"], tr["weights"]), "train.backbone")
        d = m["data"]
        if d["download"] and LAYOUTS[d["dataset"]].download is not None:
            add(Item("dataset", d["dataset"], None, [str(d["root"])], data=d), "data.download")
    return list(found.values())


def classifier_item(backbone: str, weights: str | None) -> Item:
    if backbone.startswith("torchvision:"):
        from torchvision.models import get_model_weights
        name = backbone.split(":", 1)[1]
        url = get_model_weights(name)[weights or "DEFAULT"].url
        return Item("classifier (torchvision)", url, None, [url.rsplit("/", 1)[-1]])
    from timm.models import get_pretrained_cfg
    cfg = get_pretrained_cfg(backbone)
    if cfg is None or not cfg.hf_hub_id:
        raise params.ParamsError(f"train.backbone = {backbone!r} has no hub weights timm can fetch; give a tag "
                                 "with hub weights (timm.list_pretrained)")
    return Item("classifier (timm)", cfg.hf_hub_id, None, ["config.json", "model.safetensors"])


def torch_checkpoints() -> Path:
    import torch
    return Path(torch.hub.get_dir()) / "checkpoints"


def present(item: Item) -> str | None:
    """Where the item is in the local caches (a snapshot folder or a file), or None."""
    if item.kind == "classifier (torchvision)":
        path = torch_checkpoints() / item.files[0]
        return str(path) if path.is_file() else None
    if item.kind == "dataset":
        return item.files[0] if Path(item.files[0]).expanduser().is_dir() else None
    from huggingface_hub import snapshot_download
    try:
        snapshot = snapshot_download(item.name, revision=item.revision, allow_patterns=item.files,
                                     local_files_only=True)
    except Exception:  # LocalEntryNotFoundError and friends: not cached here
        return None
    exact = [f for f in item.files if "*" not in f]  # the files that must be there (globs are optional)
    return snapshot if all((Path(snapshot) / f).is_file() for f in exact) else None


def missing(p: dict) -> list[Item]:
    return [item for item in needs(p) if present(item) is None]


def missing_message(p: dict, params_file: str) -> str | None:
    """One line naming what a run of ``p`` needs and this machine lacks, and the command that fetches it."""
    gone = missing(p)
    if not gone:
        return None
    return (f"not in the local caches: {'; '.join(i.label() for i in gone)} (needed by "
            f"{', '.join(sorted({k for i in gone for k in i.keys}))}); on a machine with internet run "
            f"python -m diffmix_utils.fetch {params_file} [--to DIR] and copy the caches here "
            "(HF_HUB_CACHE, TORCH_HOME)")


def download(item: Item) -> str:
    """Fetch one item into the caches (the network call); returns where it is."""
    if item.kind == "classifier (torchvision)":
        import torch
        dst = torch_checkpoints() / item.files[0]
        dst.parent.mkdir(parents=True, exist_ok=True)
        torch.hub.download_url_to_file(item.name, str(dst), progress=True)
        return str(dst)
    if item.kind == "dataset":  # torchvision's downloader, through the layout (flowers, aircraft, pet)
        from .data.common import resolve_options
        from .data.registry import LAYOUTS
        layout, root = LAYOUTS[item.name], Path(item.files[0]).expanduser()
        root.mkdir(parents=True, exist_ok=True)
        return str(layout.download(root, {**item.data, "options": resolve_options(item.name, layout,
                                                                                  item.data.get("options"))}))
    from huggingface_hub import snapshot_download
    return snapshot_download(item.name, revision=item.revision, allow_patterns=item.files)


def lock_entry(item: Item, where: str) -> dict:
    """The item, the revision it resolved to (a hub snapshot's commit) and the sha256 of its files."""
    root = Path(where)
    files = [root] if root.is_file() else sorted(f for f in root.rglob("*") if f.is_file())
    digests = {}
    for f in files:
        h = hashlib.sha256()
        with open(f, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
        digests[str(f.relative_to(root)) if f != root else f.name] = h.hexdigest()
    return {"kind": item.kind, "name": item.name, "requested_revision": item.revision,
            "resolved_revision": root.name if "snapshots" in root.parts else None,
            "bytes": sum(f.stat().st_size for f in files), "sha256": digests}


def cache_variables(folder: str | Path) -> dict[str, str]:
    """The environment a job sets to read what ``--to folder`` wrote: ``HF_HUB_CACHE`` and ``TORCH_HOME``
    below it (the docs test holds every page's exports to this)."""
    return {"HF_HUB_CACHE": f"{folder}/huggingface/hub", "TORCH_HOME": f"{folder}/torch"}


def use_folder(folder: Path) -> None:
    """Point the caches at ``folder`` (``--to``)."""
    os.environ.update(cache_variables(folder))


def parser() -> argparse.ArgumentParser:
    """The command line of ``python -m diffmix_utils.fetch`` (docs/cli.md is generated from it)."""
    ap = argparse.ArgumentParser(prog="python -m diffmix_utils.fetch", description=__doc__.split("\n")[0])
    ap.add_argument("params_file", help="the parameter file whose models and datasets to fetch")
    ap.add_argument("--to", type=Path, help="fetch into this folder instead of the standard caches")
    ap.add_argument("--plan", action="store_true", help="list what is missing here and fetch nothing")
    return ap


def main(argv=None) -> int:
    ap = parser()
    a = ap.parse_args(argv)
    if a.to:
        use_folder(a.to)
    try:
        p = params.load(a.params_file)
        items = needs(p)
    except params.ParamsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not items:
        print(f"{a.params_file} needs no download (bundled model, local folders, no pretrained weights)")
        return 0
    todo = [(i, present(i)) for i in items]
    for item, where in todo:
        print(f"{'present' if where else 'MISSING'}  {item.label()}  <- {', '.join(sorted(set(item.keys)))}"
              + (f"  ({where})" if where else ""))
    if a.plan:
        if any(w is None for _, w in todo):
            print(f"fetch them on a machine with internet: python -m diffmix_utils.fetch {a.params_file}"
                  + (f" --to {a.to}" if a.to else ""))
        return 0
    entries = []
    for item, where in todo:
        where = where or download(item)
        entries.append(lock_entry(item, where))
        print(f"fetched  {item.label()}: {entries[-1]['bytes'] / 1e6:,.1f} MB")
    lock = (a.to or Path(".")) / f"fetch-{p['name']}.lock.json"
    lock.parent.mkdir(parents=True, exist_ok=True)
    lock.write_text(json.dumps({"params_file": a.params_file, "items": entries}, indent=2) + "\n")
    exports = " ".join(f"{k}={v}" for k, v in cache_variables(a.to).items()) if a.to else ""
    print(f"lock file: {lock}" + (f"; on the cluster: export {exports} HF_HUB_OFFLINE=1" if a.to else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
