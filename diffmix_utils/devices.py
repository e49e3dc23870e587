"""Which torch device a run uses (``device: auto`` picks CUDA when there is one, else the CPU), and the
settings every job runs under that decide its bytes: the torch threads of a CPU job
(``cluster.cpu_threads``, fixed) and, on CUDA, deterministic kernels when ``deterministic`` is on."""
from __future__ import annotations

import contextlib
import os

CUBLAS_WORKSPACE = ":4096:8"  # what cuBLAS needs to pick deterministic kernels (CUDA >= 10.2)


def pick_device(device: str) -> str:
    """``auto`` → ``cuda`` or ``cpu``; ``cuda`` without a CUDA device is an error that says what to set."""
    import torch  # third-party only; imported here so the parameter checks can name devices without torch
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device = 'cuda' but no CUDA device is available; use 'auto' or 'cpu'")
    return device


@contextlib.contextmanager
def torch_threads(count: int | None):
    """Run the block with ``count`` torch intra-op threads (None: leave them), then restore them."""
    import torch
    before = torch.get_num_threads()
    if count is not None:
        torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def deterministic_kernels(on: bool) -> dict:
    """Switch CUDA's deterministic kernels on or off for this process; returns what is now in force (for
    ``provenance.json``). On: torch's deterministic algorithms (an op without one warns), cuBLAS's fixed
    workspace (``CUBLAS_WORKSPACE_CONFIG``, read when cuBLAS starts: set here before the first matmul, or
    in the job's environment), cudnn.benchmark off and cudnn.deterministic on."""
    import torch
    if on:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", CUBLAS_WORKSPACE)
    torch.use_deterministic_algorithms(on, warn_only=True)
    torch.backends.cudnn.benchmark = not on and torch.backends.cudnn.benchmark
    torch.backends.cudnn.deterministic = on
    return deterministic_state()


def deterministic_state() -> dict:
    """What decides whether this process's CUDA kernels repeat bit for bit."""
    import torch
    return {"deterministic_algorithms": torch.are_deterministic_algorithms_enabled(),
            "cudnn_benchmark": torch.backends.cudnn.benchmark,
            "cudnn_deterministic": torch.backends.cudnn.deterministic,
            "cublas_workspace_config": os.environ.get("CUBLAS_WORKSPACE_CONFIG")}


@contextlib.contextmanager
def job_threads(p: dict):
    """Run a job of member ``p`` under the settings that fix its bytes: on the CPU ``cluster.cpu_threads``
    torch threads (the count changes the order of float reductions, hence the last bits of weights and
    images: fixed, the executor, the workers and the machine's cores change nothing); on CUDA, with
    ``deterministic``, deterministic kernels."""
    if pick_device(p["device"]) != "cpu":
        if p.get("deterministic"):
            deterministic_kernels(True)
        yield
        return
    with torch_threads(p["cluster"]["cpu_threads"]):
        yield
