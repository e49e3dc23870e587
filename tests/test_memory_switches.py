"""The low-memory switches run on CPU and leave the results alone: gradient checkpointing gives the
same fine-tune, VAE slicing the same images, and CPU offload is ignored without CUDA. (Their memory
savings need a GPU to measure: ``benchmarks/synthesis_gpu.py``; none was measured here.)"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from safetensors.torch import load_file

from diffmix_utils import artifacts, params
from diffmix_utils.finetune import run_finetune
from diffmix_utils.models.translate import load_strategy_pipeline, render_batch
from diffmix_utils.strategies import get_strategy
from diffmix_utils.synthesize import plan_tasks
from diffmix_utils.data import ensure_split



def test_gradient_checkpointing_trains_the_same_weights(finetuned):
    p, plain = finetuned
    checkpointed = {**p, "finetune": {**p["finetune"], "gradient_checkpointing": True},
                    "workdir": str(Path(p["workdir"]) / "checkpointed")}
    assert artifacts.finetune_key(checkpointed) == artifacts.finetune_key(p)  # not part of the key
    out = run_finetune(checkpointed)
    a = load_file(str(plain / "pytorch_lora_weights.safetensors"))
    b = load_file(str(out / "pytorch_lora_weights.safetensors"))
    assert a.keys() == b.keys() and max((a[k] - b[k]).abs().max().item() for k in a) <= 1e-6


def test_vae_slicing_and_cpu_offload_make_the_same_images_on_cpu(finetuned):
    p, _ = finetuned
    member = params.expand_sweep(p)[0]
    split = ensure_split(artifacts.split_path(member), member["data"], artifacts.store(member) / "datasets")
    tasks = plan_tasks(member, split)[:3]
    strategy = get_strategy(member["synthesize"]["strategy"])
    images = []
    for switches in ({}, {"vae_slicing": True, "cpu_offload": True}):
        m = {**member, "synthesize": {**member["synthesize"], **switches}}
        pipe, tokens = load_strategy_pipeline(m, strategy, "cpu")
        assert pipe.vae.use_slicing == bool(switches)
        images.append([np.asarray(im, dtype=np.int16) for im in render_batch(m, split, pipe, strategy, tokens, tasks)])
    assert max(int(np.abs(a - b).max()) for a, b in zip(*images)) <= 1  # the same images (rounding at most)
