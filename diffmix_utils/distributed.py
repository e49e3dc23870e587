"""Data-parallel fine-tuning and training through accelerate (one process per GPU).

A stage asked for ``num_processes`` N > 1 from a notebook (which is one process) re-launches
itself with ``torchrun`` (``launch``): N processes, each running
``python -m diffmix_utils.<stage> --member-json <file>``, which ``accelerate.Accelerator`` picks
up as a multi-GPU (NCCL) or, under a manual ``torchrun`` on CPU, a multi-CPU (gloo) group.
``accelerate launch -m diffmix_utils.finetune params.yaml`` works the same way.

Batch sizes are *global*: each of the N processes takes 1/N of every batch, so the result does not
depend on N up to float rounding (with deterministic augmentation; random flips and crops are
drawn per sample from the seed, so they do not depend on N either). On a machine without CUDA a
notebook run with N > 1 runs in one process and says so: CPU data parallelism only splits the
same cores.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import torch

from . import artifacts, children, handoff, jobs, params


def launched() -> bool:
    """True inside a torchrun / accelerate launch group of more than one process."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def wanted_processes(requested: int, device: str, what: str) -> int:
    """How many processes a notebook-side run of ``what`` should launch for ``requested``."""
    if requested <= 1 or launched():
        return 1
    if device != "cuda":
        print(f"{what}: num_processes = {requested} but no CUDA device: running in one process "
              "(batch sizes are global, so the result is the same)")
        return 1
    gpus = torch.cuda.device_count()
    if requested > gpus:
        raise ValueError(f"{what}.num_processes = {requested} but this machine has {gpus} CUDA "
                         f"device(s); valid: 1..{gpus}")
    return requested


def launch(module: str, member: dict, num_processes: int, work: Path, publishes: Path) -> Path:
    """Run ``python -m diffmix_utils.<module> --member-json FILE`` as ``num_processes`` torchrun ranks;
    returns ``publishes``, the stage folder the ranks must have completed."""
    spec = handoff.write_member(member, Path(work) / "member.json")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={num_processes}",
           *handoff.command(f"diffmix_utils.{module}", spec)[1:]]
    print(f"{module}: launching {num_processes} processes: {' '.join(cmd)}", flush=True)
    code, = children.wait_all([children.popen(cmd)])  # an interrupt stops torchrun, which stops its ranks
    if code != 0:
        raise RuntimeError(f"{module}: the {num_processes}-process run failed (exit code {code}); its "
                           "ranks' errors are printed above. Rerun to resume from the last checkpoint.")
    if not artifacts.is_done(publishes):
        raise RuntimeError(f"{module}: the {num_processes}-process run ended without publishing {publishes}")
    return publishes


def make_accelerator(device: str, mixed_precision: str = "no"):
    """An ``accelerate.Accelerator`` for ``device``; mixed precision only on CUDA."""
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState
    AcceleratorState._reset_state()  # each stage (or sweep member) in one kernel gets its own settings
    return Accelerator(cpu=device == "cpu", mixed_precision=mixed_precision if device == "cuda" else "no")


def split_evenly(items: list, rank: int, world: int) -> list:
    """Rank ``rank``'s contiguous part of ``items`` (sizes differ by at most one)."""
    base, extra = divmod(len(items), world)
    start = rank * base + min(rank, extra)
    return items[start:start + base + (rank < extra)]


def global_batch_share(global_batch: int, world: int, what: str) -> int:
    """Per-process batch; the global batch must split evenly so every rank's loss weighs the same."""
    if global_batch % world:
        raise ValueError(f"{what}.batch_size = {global_batch} is the global batch and must divide by "
                         f"the {world} processes; valid: a multiple of {world}")
    return global_batch // world


def stage_parser(stage: str):
    """The command line of ``python -m diffmix_utils.<stage>`` for finetune and train (docs/cli.md is
    generated from it): ``--member-json FILE`` (an executor's job) or ``PARAMS [--set K=V]``."""
    import argparse

    ap = argparse.ArgumentParser(prog=f"python -m diffmix_utils.{stage}",
                                 description="One stage, e.g. under torchrun / accelerate launch.")
    ap.add_argument("params_file", nargs="?", help="a parameter file: every member of this stage (or --member-json)")
    ap.add_argument("--member-json", help="a resolved sweep member (written by the launching process)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a key")
    return ap


def main_for(stage: str, run, argv=None) -> int:
    """``python -m diffmix_utils.<stage> --member-json FILE`` or ``... PARAMS [--set K=V]``."""
    ap = stage_parser(stage)
    a = ap.parse_args(argv)
    if a.member_json:
        members = [handoff.read_member(a.member_json)]
    elif a.params_file:
        members = jobs.stage_jobs(params.load(a.params_file, params.parse_overrides(a.set)), stage)
    else:
        ap.error("give a parameter file or --member-json")
    for member in members:
        run(member)
    return 0
