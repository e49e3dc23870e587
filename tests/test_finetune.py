"""Fine-tune stage: a real tiny run, then the stock diffusers loaders read what it saved."""
from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file

from diffmix_utils import artifacts
from diffmix_utils.finetune import add_class_tokens, run_finetune
from diffmix_utils.models.base import apply_finetune, load_components, load_pipeline

from .conftest import tiny_params


def test_finetune_writes_stock_loadable_artifacts(finetuned):
    p, out = finetuned
    assert {"pytorch_lora_weights.safetensors", "learned_embeds.safetensors", "tokens.json",
            "done.json", "log.jsonl"} <= {f.name for f in out.iterdir()}
    meta = json.loads((out / "tokens.json").read_text())
    assert meta["tokens"] == [f"<class_{i}>" for i in range(4)]
    pipe = load_pipeline(p["model"]["base"], artifacts.store(p), "img2img", "cpu")
    before = {n: t.clone() for n, t in pipe.unet.state_dict().items()}
    pipe.load_lora_weights(str(out))  # the stock loader
    lora = [n for n, _ in pipe.unet.named_parameters() if "lora" in n]
    assert lora and any(".to_q." in n for n in lora) and any(".to_out.0." in n for n in lora)
    assert all(torch.equal(before[n], t) for n, t in pipe.unet.state_dict().items() if n in before)
    sd = load_file(str(out / "learned_embeds.safetensors"))
    pipe.load_textual_inversion(list(sd.values()), token=list(sd))  # the stock loader
    ids = pipe.tokenizer.convert_tokens_to_ids(list(sd))
    emb = pipe.text_encoder.get_input_embeddings().weight
    assert all(torch.equal(emb[i], sd[t]) for i, t in zip(ids, sd))
    kit = load_pipeline(p["model"]["base"], artifacts.store(p), "img2img", "cpu")
    assert apply_finetune(kit, out, lora=True, embeddings=True) == list(sd)  # the kit's quiet path ...
    stock, mine = pipe.unet.state_dict(), kit.unet.state_dict()  # ... loads the same weights
    assert stock.keys() == mine.keys() and all(torch.equal(stock[k], mine[k]) for k in stock)
    assert torch.equal(kit.text_encoder.get_input_embeddings().weight, emb) and len(kit.tokenizer) == len(pipe.tokenizer)


def test_only_class_token_rows_learn(finetuned):
    p, out = finetuned
    c = load_components(p["model"]["base"], artifacts.store(p))
    init = c["text_encoder"].get_input_embeddings().weight[42170].detach()
    learned = load_file(str(out / "learned_embeds.safetensors"))
    moved = [not torch.allclose(v, init) for v in learned.values()]
    assert all(moved), "every class token moved away from its init row"


def test_init_token_must_be_one_token(tmp_path):
    c = load_components("bundled:tiny-sd", tmp_path)
    with pytest.raises(ValueError, match="finetune.init_token = 'a photo'"):
        add_class_tokens(c["tokenizer"], c["text_encoder"], 2, "a photo")


def test_lora_only_mode_learns_no_tokens(workdir):
    p = tiny_params(workdir, finetune={"mode": "lora_only", "steps": 2})
    out = run_finetune(p)
    assert not (out / "learned_embeds.safetensors").exists()
    assert (out / "pytorch_lora_weights.safetensors").is_file()
    pipe = load_pipeline(p["model"]["base"], artifacts.store(p), "img2img", "cpu")
    assert apply_finetune(pipe, out, lora=True, embeddings=False) == []


def test_finished_finetune_is_not_redone(finetuned):
    p, out = finetuned
    stamp = (out / "done.json").stat().st_mtime_ns
    assert run_finetune(p) == out and (out / "done.json").stat().st_mtime_ns == stamp


def _weights(out):
    return {**load_file(str(out / "pytorch_lora_weights.safetensors")),
            **load_file(str(out / "learned_embeds.safetensors"))}


def test_resume_after_a_kill_ends_with_the_same_weights(tmp_path, monkeypatch):
    import diffmix_utils.finetune.stage as finetune
    from diffmix_utils.finetune.checkpoints import checkpoints
    ft = {"steps": 6, "checkpoint_every": 2, "checkpoint_limit": 1}
    whole = run_finetune(tiny_params(tmp_path / "a", finetune=ft))
    p = tiny_params(tmp_path / "b", finetune=ft)
    real_save = finetune.save_checkpoint

    def killed_after_step_4(work, step, *args):
        folder = real_save(work, step, *args)
        if step == 4:
            raise KeyboardInterrupt("simulated kill")
        return folder
    monkeypatch.setattr(finetune, "save_checkpoint", killed_after_step_4)
    with pytest.raises(KeyboardInterrupt):
        run_finetune(p)
    work = artifacts.finetune_dir(p).parent / f"{artifacts.finetune_dir(p).name}.work"
    assert [c.name for c in checkpoints(work)] == ["checkpoint-4"]  # the limit removed checkpoint-2
    assert not artifacts.finetune_dir(p).exists()  # nothing half-written is published
    monkeypatch.setattr(finetune, "save_checkpoint", real_save)
    out = run_finetune(p)
    assert json.loads((out / "done.json").read_text())["resumed_from_step"] == 4 and not work.exists()
    a, b = _weights(whole), _weights(out)
    assert a.keys() == b.keys()
    assert max((a[k] - b[k]).abs().max().item() for k in a) <= 1e-6


def test_ti_then_lora_trains_tokens_first_then_lora(tmp_path):
    p = tiny_params(tmp_path, finetune={"mode": "ti_then_lora", "steps": 4, "ti_steps": 4})
    out = run_finetune(p)  # only the token phase ran: LoRA B matrices are still their zero init
    lora = load_file(str(out / "pytorch_lora_weights.safetensors"))
    assert all(v.abs().max() == 0 for k, v in lora.items() if "lora_B" in k or "lora.up" in k)
    p2 = tiny_params(tmp_path, finetune={"mode": "ti_then_lora", "steps": 6, "ti_steps": 4})
    out2 = run_finetune(p2)
    lora2 = load_file(str(out2 / "pytorch_lora_weights.safetensors"))
    assert any(v.abs().max() > 0 for k, v in lora2.items() if "lora_B" in k or "lora.up" in k)
    emb = load_file(str(out / "learned_embeds.safetensors"))
    emb2 = load_file(str(out2 / "learned_embeds.safetensors"))
    assert all(torch.equal(emb[k], emb2[k]) for k in emb)  # the LoRA phase kept the tokens
