"""The converter for released Diff-Mix fine-tunes, on fixtures written in exactly the legacy format."""
from __future__ import annotations

import json
import re

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from diffmix_utils import artifacts
from diffmix_utils.finetune.convert import ConvertError, convert, main
from diffmix_utils.models.base import apply_finetune, load_pipeline


class NotPlainData:
    """An object a pickle can only restore by running this module's code."""


def legacy_folder(kit_folder, dst):
    """The reference's save_attn_procs + save_progress output for the kit fine-tune in ``kit_folder``."""
    dst.mkdir(parents=True)
    legacy = {}
    for key, value in load_file(str(kit_folder / "pytorch_lora_weights.safetensors")).items():
        m = re.fullmatch(r"unet\.(.+)\.(to_q|to_k|to_v|to_out\.0)\.lora\.(down|up)\.weight", key)
        proj = "to_out" if m[2] == "to_out.0" else m[2]
        legacy[f"{m[1]}.processor.{proj}_lora.{m[3]}.weight"] = value
    save_file(legacy, str(dst / "pytorch_lora_weights.safetensors"))
    emb = load_file(str(kit_folder / "learned_embeds.safetensors"))
    names = {t: f"class name {t[7:-1]}" for t in emb}
    torch.save({"learned_embeds_dict": emb, "name2placeholder": {v: k for k, v in names.items()},
                "placeholder2name": names}, dst / "learned_embeds-steps-last.bin")
    return dst


def test_round_trip_restores_the_fine_tuned_pipeline(finetuned, tmp_path):
    p, kit = finetuned
    out = convert(legacy_folder(kit, tmp_path / "legacy"), tmp_path / "converted", "bird")
    a = load_file(str(kit / "pytorch_lora_weights.safetensors"))
    b = load_file(str(out / "pytorch_lora_weights.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    meta = json.loads((out / "tokens.json").read_text())
    assert meta["classes"][1] == "class name 1" and meta["tokens"][3] == "<class_3>"

    store = artifacts.store(p)
    reference = load_pipeline(p["model"]["base"], store, "txt2img", "cpu")
    apply_finetune(reference, kit, lora=True, embeddings=True)
    stock = load_pipeline(p["model"]["base"], store, "txt2img", "cpu")
    stock.load_lora_weights(str(out))  # the stock loaders only
    stock.load_textual_inversion(sorted(str(f) for f in (out / "embeddings").glob("*.safetensors")))
    run = dict(prompt=["a photo of a <class_2> bird"], height=64, width=64, num_inference_steps=3,
               output_type="np")
    x = reference(generator=torch.Generator().manual_seed(0), **run).images
    y = stock(generator=torch.Generator().manual_seed(0), **run).images
    assert np.array_equal(x, y)


def test_bad_inputs_give_one_clear_error(finetuned, tmp_path, capsys):
    _, kit = finetuned
    with pytest.raises(ConvertError, match="is not a folder"):
        convert(tmp_path / "missing", tmp_path / "o1")
    assert main([str(tmp_path / "missing"), str(tmp_path / "o1")]) == 2
    assert "error:" in capsys.readouterr().err and not (tmp_path / "o1").exists()

    src = legacy_folder(kit, tmp_path / "wrong-keys")
    save_file(load_file(str(kit / "pytorch_lora_weights.safetensors")), str(src / "pytorch_lora_weights.safetensors"))
    with pytest.raises(ConvertError, match="not in the legacy attention-processor layout"):
        convert(src, tmp_path / "o2")

    src = legacy_folder(kit, tmp_path / "pickled-lora")
    (src / "pytorch_lora_weights.safetensors").rename(src / "pytorch_lora_weights.bin")
    with pytest.raises(ConvertError, match="pickled LoRA is refused"):
        convert(src, tmp_path / "o3")

    src = legacy_folder(kit, tmp_path / "code-pickle")
    torch.save({"learned_embeds_dict": NotPlainData()}, src / "learned_embeds-steps-last.bin")
    with pytest.raises(ConvertError, match="refused: loading it would run code"):
        convert(src, tmp_path / "o4")
    assert not any((tmp_path / f"o{i}").exists() for i in range(1, 5))
