"""``python -m diffmix_utils.synthesize params.yaml``: the synthesis stage from the command line, as
a sharded worker (``--member-json FILE --shard INDEX COUNT``, started by the stage itself), one
pool (``--member-json FILE``, an executor's job), or
under ``accelerate launch`` / ``torchrun``, where the launched processes shard the fixed batches by
``RANK`` / ``WORLD_SIZE`` and rank 0 writes the manifest once every planned image is on disk.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from .. import artifacts, handoff, jobs, params
from ..devices import pick_device
from .stage import prepare, run_shard, run_stage, run_synthesis


def wait_for_images(p: dict, out: Path, timeout_s: float = 24 * 3600) -> None:
    """Rank 0 under a launcher: wait until the other ranks' images of the plan are all on disk."""
    _, _, tasks, _ = prepare(p)
    deadline = time.time() + timeout_s
    while not all((out / t["path"]).is_file() for t in tasks):
        if time.time() > deadline:
            raise TimeoutError(f"{out}: other ranks did not finish their images in {timeout_s:.0f} s")
        time.sleep(2)


def parser() -> argparse.ArgumentParser:
    """The command line of ``python -m diffmix_utils.synthesize`` (docs/cli.md is generated from it)."""
    ap = argparse.ArgumentParser(prog="python -m diffmix_utils.synthesize",
                                 description="Synthesis stage (sharded workers, or under accelerate launch).")
    ap.add_argument("params_file", nargs="?", help="a parameter file: every pool it needs (or --member-json)")
    ap.add_argument("--member-json", help="a resolved sweep member (written by the parent process)")
    ap.add_argument("--shard", nargs=2, type=int, metavar=("INDEX", "COUNT"))
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a key")
    return ap


def main(argv=None) -> int:
    """Workers and ``accelerate launch``: ``python -m diffmix_utils.synthesize params.yaml``."""
    ap = parser()
    a = ap.parse_args(argv)
    if a.member_json:  # a shard worker of a pool (--shard), or a whole pool (an executor's job)
        member = handoff.read_member(a.member_json)
        run_shard(member, *a.shard) if a.shard else run_synthesis(member)
        return 0
    p = params.load(a.params_file, params.parse_overrides(a.set))
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1:  # accelerate launch / torchrun: shard by RANK; the rank-0 process writes the manifest
        rank, local = int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0"))
        device = f"cuda:{local}" if pick_device(p["device"]) == "cuda" else "cpu"
        for member in jobs.stage_jobs(p, "synthesize"):
            member = {**member, "synthesize": {**member["synthesize"], "num_processes": 1}}
            out = artifacts.synthesis_dir(member)
            if out is None or artifacts.is_done(out):
                continue
            run_shard(member, rank, world, device)
            if rank == 0:
                wait_for_images(member, out)
                run_synthesis(member)
        return 0
    run_stage(p)
    return 0


if __name__ == "__main__":
    sys.exit(main())
