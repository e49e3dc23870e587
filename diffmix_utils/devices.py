"""Which torch device a run uses (``device: auto`` picks CUDA when there is one, else the CPU), and
how many torch threads a job uses on the CPU (``cluster.cpu_threads``)."""
from __future__ import annotations

import contextlib


def pick_device(device: str) -> str:
    """``auto`` → ``cuda`` or ``cpu``; ``cuda`` without a CUDA device is an error that says what to set."""
    import torch  # third-party only; imported here so the parameter checks can name devices without torch
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device = 'cuda' but no CUDA device is available; use 'auto' or 'cpu'")
    return device


@contextlib.contextmanager
def job_threads(p: dict):
    """Run the block with ``cluster.cpu_threads`` torch threads when the job runs on the CPU (null: leave
    them). The thread count changes the order of float reductions, hence the last bits of weights and
    images; fixed, the same file gives the same bytes under every executor."""
    import torch
    wanted = p["cluster"]["cpu_threads"]
    if wanted is None or pick_device(p["device"]) != "cpu":
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(wanted)
    try:
        yield
    finally:
        torch.set_num_threads(before)
