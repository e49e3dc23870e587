"""Fine-tune checkpoints: save every K steps, keep the latest N, resume exactly after a kill.

A checkpoint is a folder ``<work>/checkpoint-<step>/`` (written atomically, so a kill mid-write
leaves no partial checkpoint) holding
- ``trainable.safetensors``: every trainable tensor by name (LoRA matrices; the class-token rows
  of the embedding as ``embedding.rows``);
- ``state.pt``: the AdamW state, the step, the loss log and, per process, the RNG states (torch's
  global one, which drives the image transforms, and the noise/timestep generator) -- tensors and plain
  Python values only, loaded with ``torch.load(..., weights_only=True)``.
The sample order is fixed up front from the seed, so a resumed run sees the batches the
uninterrupted run would have seen and ends with the same weights.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from ..atomic import ArtifactError, atomic_dir


def _step_of(folder: Path) -> int:
    return int(folder.name.split("-", 1)[1])


def checkpoints(work: Path) -> list[Path]:
    """Complete checkpoint folders, oldest first."""
    found = [d for d in Path(work).glob("checkpoint-*") if (d / "state.pt").is_file()
             and d.name.split("-", 1)[1].isdigit()]
    return sorted(found, key=_step_of)


def save_checkpoint(work: Path, step: int, named: dict[str, torch.Tensor], state: dict, limit: int) -> Path:
    """Write checkpoint ``step`` and delete all but the newest ``limit``."""
    folder = Path(work) / f"checkpoint-{step}"
    with atomic_dir(folder) as tmp:
        save_file({k: v.detach().cpu().contiguous() for k, v in named.items()}, str(tmp / "trainable.safetensors"))
        torch.save(state, tmp / "state.pt")
    for old in checkpoints(work)[:-limit]:
        shutil.rmtree(old)
    return folder


def load_latest(work: Path) -> tuple[dict[str, torch.Tensor], dict] | None:
    """(tensors, state) of the newest complete checkpoint, or None."""
    found = checkpoints(work)
    if not found:
        return None
    latest = found[-1]
    try:
        return load_file(str(latest / "trainable.safetensors")), torch.load(latest / "state.pt", weights_only=True)
    except Exception as exc:  # a checkpoint broken after it was written (atomic writes rule out a partial one)
        raise ArtifactError(f"checkpoint {str(latest)!r} cannot be read ({type(exc).__name__}); delete it to "
                            "resume from an older checkpoint (or from the start)") from None


def rng_state(generator: torch.Generator) -> dict:
    return {"torch": torch.get_rng_state(), "generator": generator.get_state()}


def restore_rng(state: dict | list, generator: torch.Generator, rank: int = 0) -> None:
    """Restore this rank's RNG states; ``state`` holds one entry per rank (older checkpoints: one dict).

    The noise generator is shared (every rank draws the whole batch's noise); the global RNG, which
    drives the random flips and crops, is per rank."""
    states = state if isinstance(state, list) else [state]
    if rank >= len(states):
        raise RuntimeError(f"the checkpoint was written by {len(states)} process(es) and cannot resume "
                           f"rank {rank}; resume with finetune.num_processes = {len(states)}")
    torch.set_rng_state(states[rank]["torch"])
    generator.set_state(states[rank]["generator"])
