"""A paper file on an offline compute node: every model resolves through a local Hugging Face cache in
the standard layout (built here from the bundled model as SD-1.5 and a tiny timm model as the
classifier) with the hub offline, and one fine-tune step, one synthesis batch and one training step
run; a model missing from the cache is one error naming it and the fetch command."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import timm
from safetensors.torch import save_file

from diffmix_utils import fetch, params
from diffmix_utils.models import tiny_sd

ROOT = Path(__file__).resolve().parent.parent
COMMIT = "0123456789abcdef0123456789abcdef01234567"
SD15 = "stable-diffusion-v1-5/stable-diffusion-v1-5"
CLASSIFIER = "test_resnet.r160_in1k"  # a tiny timm model with hub weights: the stand-in for resnet50.tv_in1k


def _snapshot(hub: Path, repo: str) -> Path:
    """The standard cache layout: models--org--name/{refs/main, snapshots/<commit>/...}."""
    base = hub / f"models--{repo.replace('/', '--')}"
    (base / "refs").mkdir(parents=True, exist_ok=True)
    (base / "refs" / "main").write_text(COMMIT)
    snap = base / "snapshots" / COMMIT
    snap.mkdir(parents=True, exist_ok=True)
    return snap


def build_cache(hub: Path) -> None:
    sd = _snapshot(hub, SD15)
    for f in tiny_sd.BUNDLED_DIR.rglob("*"):
        if f.is_file() and not f.name.startswith(("PRETRAIN", "pretrain_log")):
            (sd / f.relative_to(tiny_sd.BUNDLED_DIR)).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(f, sd / f.relative_to(tiny_sd.BUNDLED_DIR))
    clf = _snapshot(hub, f"timm/{CLASSIFIER}")
    model = timm.create_model(CLASSIFIER, pretrained=False)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(clf / "model.safetensors"))
    (clf / "config.json").write_text(json.dumps({"architecture": "test_resnet", "num_classes": 1000}))


OVERRIDES = {"data.dataset": "toybirds", "data.root": None, "data.num_classes": 4, "data.train_per_class": 6,
             "data.test_per_class": 3, "model.resolution": 64, "finetune.steps": 1, "finetune.batch_size": 2,
             "synthesize.multiplier": 0.25, "synthesize.batch_size": 4, "synthesize.steps": 10,
             "train.backbone": CLASSIFIER, "train.image_size": 32, "train.epochs": 1, "train.batch_size": 4}

SCRIPT = """
import json, sys
from diffmix_utils import artifacts, fetch, params
from diffmix_utils.finetune import run_finetune
from diffmix_utils.synthesize import run_synthesis
from diffmix_utils.train import run_training
overrides = json.loads(sys.argv[2])
p = params.load(sys.argv[1], overrides)
assert fetch.missing(p) == [], fetch.missing(p)
m = next(m for m in params.expand_sweep(p) if m["synthesize"]["strategy"] == "diff-mix" and m["data"]["shots"] == 1)
m["train"]["p"] = 0.5
pool = run_synthesis(m) if run_finetune(m) else None
out = run_training(m)
record = artifacts.read_json(out / "provenance.json")
print(json.dumps({"pool": len(artifacts.read_manifest(pool)), "epochs": len(open(out / "metrics.jsonl").readlines()),
                  "base": record["base_model"], "revision": record["resolved_revision"]}))
"""


def _offline_env(hub: Path) -> dict:
    return {**os.environ, "HF_HUB_CACHE": str(hub), "HF_HUB_OFFLINE": "1", "TORCH_HOME": str(hub.parent / "torch")}


def test_a_paper_file_runs_from_a_local_hub_cache_with_the_hub_offline(tmp_path):
    hub = tmp_path / "hub"
    build_cache(hub)
    overrides = {**OVERRIDES, "workdir": str(tmp_path / "runs")}
    paper = ROOT / "params" / "paper" / "fewshot_cub.yaml"
    r = subprocess.run([sys.executable, "-c", SCRIPT, str(paper), json.dumps(overrides)], cwd=tmp_path,
                       env=_offline_env(hub), capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    got = json.loads(r.stdout.strip().splitlines()[-1])
    assert got["pool"] >= 1 and got["epochs"] == 1
    assert got["base"] == SD15 and got["revision"] == COMMIT  # the hub snapshot's commit is recorded


def test_a_model_missing_offline_is_one_error_naming_it_and_the_fetch_command(tmp_path):
    hub = tmp_path / "hub"
    build_cache(hub)
    shutil.rmtree(hub / f"models--timm--{CLASSIFIER}")
    sets = [a for k, v in {**OVERRIDES, "workdir": str(tmp_path / "runs")}.items()
            for a in ("--set", f"{k}={'null' if v is None else v}")]
    paper = ROOT / "params" / "paper" / "fewshot_cub.yaml"
    r = subprocess.run([sys.executable, "-m", "diffmix_utils.run", str(paper), *sets], cwd=tmp_path,
                       env=_offline_env(hub), capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    line = r.stderr.strip().splitlines()[-1]
    assert f"classifier (timm) timm/{CLASSIFIER}" in line and "python -m diffmix_utils.fetch" in line
    assert SD15 not in line  # the base model is in the cache
    assert not (tmp_path / "runs").exists()


def test_fetch_plan_lists_every_paper_files_downloads():
    for path in sorted((ROOT / "params" / "paper").glob("*.yaml")):
        items = fetch.needs(params.load(path))
        kinds = {i.kind for i in items}
        assert "base model" in kinds, path.name
        trains = path.name != "throughput.yaml"  # the throughput file times synthesis only
        assert bool(kinds & {"classifier (timm)", "classifier (torchvision)"}) == trains, path.name
        assert all(i.name != "runwayml/stable-diffusion-v1-5" for i in items)


def test_fetch_downloads_each_item_once_into_the_folder_and_writes_a_lock(tmp_path, monkeypatch, capsys):
    """Everything up to the network call: the hub and torch.hub functions are replaced by fakes that
    record what they were asked for and write a file."""
    import huggingface_hub
    import torch
    calls = []

    def snapshot_download(repo_id, revision=None, allow_patterns=None, local_files_only=False):
        if local_files_only:
            raise FileNotFoundError(repo_id)  # nothing cached yet
        calls.append(("hub", repo_id, revision, tuple(allow_patterns)))
        snap = Path(os.environ["HF_HUB_CACHE"]) / f"models--{repo_id.replace('/', '--')}" / "snapshots" / COMMIT
        snap.mkdir(parents=True, exist_ok=True)
        (snap / "model_index.json").write_text("{}")
        return str(snap)

    def download_url_to_file(url, dst, progress=True):
        calls.append(("url", url, Path(dst).parent == tmp_path / "cache" / "torch" / "hub" / "checkpoints"))
        Path(dst).write_bytes(b"weights")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", snapshot_download)
    monkeypatch.setattr(torch.hub, "download_url_to_file", download_url_to_file)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(Path(os.environ["TORCH_HOME"]) / "hub"))
    for key in ("HF_HUB_CACHE", "TORCH_HOME"):
        monkeypatch.setenv(key, os.environ.get(key, ""))  # restored after the test; fetch --to sets them
    paper = ROOT / "params" / "paper" / "conventional_cub.yaml"
    assert fetch.main([str(paper), "--to", str(tmp_path / "cache")]) == 0
    assert ("hub", SD15, None, tuple(fetch.DIFFUSERS_FILES)) in calls
    assert ("hub", "timm/resnet50.tv_in1k", None, ("config.json", "model.safetensors")) in calls
    assert ("url", "https://download.pytorch.org/models/vit_b_16_swag-9ac1b537.pth", True) in calls
    assert len(calls) == 3  # each item once, though 18 members need them
    lock = json.loads((tmp_path / "cache" / "fetch-conventional_cub.lock.json").read_text())
    base = next(i for i in lock["items"] if i["name"] == SD15)
    assert base["resolved_revision"] == COMMIT and set(base["sha256"]) == {"model_index.json"}
    assert "HF_HUB_OFFLINE=1" in capsys.readouterr().out
