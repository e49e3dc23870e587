"""Where an artifact came from: ``provenance.json`` in every stage folder, written before ``done.json``.

It records what makes two tables comparable or not: the kit's version and git commit (and whether
the checkout had uncommitted changes), Python and the versions of the libraries that shape the
numbers, the devices (names and count) and dtype, the base model id with the revision it resolved
to (the hub snapshot's commit, or a hash of a local folder's or the bundled model's weights) and
the dataset with the checksum of the split file every stage read. ``analyze`` shows them as a table
and warns when the members of one table come from different environments.
"""
from __future__ import annotations

import hashlib
import platform
import subprocess
from functools import lru_cache
from importlib import metadata
from pathlib import Path

from . import artifacts

LIBRARIES = ("torch", "torchvision", "diffusers", "transformers", "peft", "timm", "accelerate", "safetensors",
             "numpy")
KIT_ROOT = Path(__file__).resolve().parent.parent
# what must agree for numbers to be comparable (the rest, e.g. the commit, is reported, not compared)
ENVIRONMENT_KEYS = ("python", *LIBRARIES, "cuda", "devices", "device_count", "cpu_capability", "cpu_model")


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


@lru_cache(maxsize=1)
def kit() -> dict:
    """The kit's version, and its git commit and dirtiness when it runs from a checkout."""
    out = {"kit_version": _version("diffmix-kit"), "kit_commit": None, "kit_dirty": None}
    try:
        git = ["git", "-C", str(KIT_ROOT)]
        out["kit_commit"] = subprocess.run(git + ["rev-parse", "HEAD"], capture_output=True, text=True,
                                           timeout=10, check=True).stdout.strip()
        status = subprocess.run(git + ["status", "--porcelain", "--untracked-files=no"], capture_output=True,
                                text=True, timeout=10, check=True).stdout
        out["kit_dirty"] = bool(status.strip())
    except (OSError, subprocess.SubprocessError):
        pass  # not a git checkout (an installed wheel): the version alone
    return out


def environment(device: str | None = None) -> dict:
    """Python, library versions, CUDA and the devices of this process."""
    import torch
    env = {"python": platform.python_version(), **{lib: _version(lib) for lib in LIBRARIES},
           "cuda": torch.version.cuda if torch.cuda.is_available() else None}
    if device is not None and str(device).startswith("cuda") and torch.cuda.is_available():
        count = torch.cuda.device_count()
        env["devices"] = sorted({torch.cuda.get_device_name(i) for i in range(count)})
        env["device_count"] = count
        from .devices import deterministic_state
        env.update(deterministic_state())  # whether this GPU run's kernels repeat bit for bit
    else:
        env["devices"] = [f"cpu ({platform.machine()})"]
        env["device_count"] = 1
        env["torch_threads"] = torch.get_num_threads()  # changes the last bits (cluster.cpu_threads)
        env["cpu_capability"] = torch.backends.cpu.get_cpu_capability()  # the vector kernels torch picked
        env["cpu_model"] = cpu_model()  # MKL and oneDNN pick kernels by vendor and model, not only by ISA
    return env


@lru_cache(maxsize=1)
def cpu_model() -> str:
    """The CPU as ``/proc/cpuinfo`` names it: its model name with its family, model and stepping (a
    virtual machine may show only "AMD EPYC", and two generations behind that name compute other last
    bits); else what ``platform`` says. One AVX512 machine from another vendor trained the same
    classifier to other last bits (docs/artifacts.md)."""
    try:
        fields: dict[str, str] = {}
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if not line.strip():
                break  # the first processor is enough
            key, _, value = line.partition(":")
            fields.setdefault(key.strip(), " ".join(value.split()))
        if "model name" in fields:
            ids = [f"{k} {fields[k]}" for k in ("cpu family", "model", "stepping") if fields.get(k)]
            return fields["model name"] + (f" ({', '.join(ids)})" if ids else "")
    except OSError:
        pass
    return platform.processor() or platform.machine()


@lru_cache(maxsize=8)
def _weights_hash(folder: str) -> str:
    """sha256 over a diffusers folder's weight and config files (names and bytes), read once per process."""
    digest = hashlib.sha256()
    root = Path(folder)
    for f in sorted(root.rglob("*")):
        if f.is_file() and f.suffix in (".safetensors", ".bin", ".json", ".txt"):
            digest.update(str(f.relative_to(root)).encode())
            with open(f, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(block)
    return "sha256:" + digest.hexdigest()


def base_model(p: dict) -> dict:
    """The base model's id, the revision asked for, and what it resolved to here."""
    base, revision = p["model"]["base"], p["model"].get("revision")
    out = {"base_model": base, "requested_revision": revision, "resolved_revision": None}
    if base.startswith("bundled:"):
        from .models import tiny_sd
        out["resolved_revision"] = _weights_hash(str(tiny_sd.BUNDLED_DIR))
    elif Path(base).expanduser().is_dir():
        out["resolved_revision"] = _weights_hash(str(Path(base).expanduser().resolve()))
    else:
        try:
            from huggingface_hub import snapshot_download
            snapshot = snapshot_download(base, revision=revision, local_files_only=True)
            out["resolved_revision"] = Path(snapshot).name  # the snapshot folder is named by its commit
        except Exception as exc:  # not in the local cache: say so rather than guess
            out["resolved_revision"] = f"unresolved ({type(exc).__name__})"
    return out


def dataset(p: dict) -> dict:
    path = artifacts.split_path(p)
    checksum = None
    if path.is_file():
        from .data import load_split
        checksum = load_split(path).get("checksum")
    return {"dataset": p["data"]["dataset"], "data_root": p["data"]["root"], "split_file": path.name,
            "split_checksum": checksum}


def collect(p: dict | None, device: str | None = None, dtype: str | None = None) -> dict:
    """Everything above for member ``p`` (None: the environment alone, e.g. a filter run by hand)."""
    record = {**kit(), **environment(device), "dtype": dtype}
    if p is not None:
        record.update({**base_model(p), **dataset(p), "member": p.get("member")})
    return record


def write(folder: Path, p: dict | None, device: str | None = None, dtype: str | None = None) -> Path:
    """Write ``provenance.json`` into ``folder`` (atomically); call it before ``done.json``."""
    return artifacts.write_json(Path(folder) / "provenance.json", collect(p, str(device) if device else None, dtype))


def comparable(record: dict) -> tuple:
    """The part of a record that must agree between members of one table."""
    return tuple((k, str(record.get(k))) for k in ENVIRONMENT_KEYS)
