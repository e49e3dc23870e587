"""Which torch device a run uses: ``device: auto`` picks CUDA when there is one, else the CPU."""
from __future__ import annotations


def pick_device(device: str) -> str:
    """``auto`` → ``cuda`` or ``cpu``; ``cuda`` without a CUDA device is an error that says what to set."""
    import torch  # third-party only; imported here so the parameter checks can name devices without torch
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device = 'cuda' but no CUDA device is available; use 'auto' or 'cpu'")
    return device
