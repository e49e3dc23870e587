"""Fine-tune stage: one textual-inversion token per class + DreamBooth-LoRA on the UNet attention.

Diff-Mix (Wang et al., CVPR 2024, arXiv 2403.19600) personalises Stable Diffusion with a learned
token ``<class_i>`` per class, trained jointly with LoRA on every UNet attention projection, on
the prompt "a photo of a <class_i> {superclass}" and the plain epsilon-prediction MSE loss.

Modes: ``joint`` (TI + LoRA, as Diff-Mix), ``ti_then_lora`` (the tokens alone for ``ti_steps``,
then LoRA alone with the learned tokens kept), ``ti_only`` (tokens only), ``lora_only`` (LoRA with
the class *names* in the prompt, the reference's "DB" ablation).

Checkpoints every ``checkpoint_every`` steps go to ``<folder>.work/`` (``checkpoints``);
a rerun after a kill resumes from the newest one and ends with the same weights.

Writes, into the stage folder (atomically: a temp folder renamed when complete):
- ``pytorch_lora_weights.safetensors``  -> stock ``pipe.load_lora_weights(folder)``
- ``learned_embeds.safetensors``       -> ``{"<class_i>": vector}`` for every class; stock load:
  ``pipe.load_textual_inversion(list(sd.values()), token=list(sd.keys()))``
- ``embeddings/class_i.safetensors``   -> one token per file; stock load of all of them:
  ``pipe.load_textual_inversion(sorted(glob(f"{folder}/embeddings/*.safetensors")))``
- ``tokens.json`` (tokens, class names, prompt template), ``log.jsonl`` (loss), ``done.json``.
"""
from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from accelerate.utils import gather_object
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms as T

from .. import artifacts, locks, distributed, jobs, progress, provenance
from ..atomic import atomic_dir
from ..data import open_image
from ..devices import job_threads, pick_device
from ..models.base import load_components
from ..data.class_names import prompt_classes
from ..strategies import PROMPT_TEMPLATE  # the synthesis prompts use the same template
from .checkpoints import load_latest, restore_rng, rng_state, save_checkpoint

TOKEN_TEMPLATE = "<class_{}>"
LORA_TARGETS = ["to_k", "to_q", "to_v", "to_out.0"]


class PromptedImages(Dataset):
    """Training images of the split with their class prompts, transformed as the reference (A.2)."""

    def __init__(self, split: dict, indices: list[int], names: list[str], superclass: str,
                 resolution: int, center_crop: bool, random_flip: bool):
        self.split, self.indices, self.names, self.superclass = split, indices, names, superclass
        self.transform = T.Compose([
            T.Resize(resolution, interpolation=T.InterpolationMode.BILINEAR),
            T.CenterCrop(resolution) if center_crop else T.RandomCrop(resolution),
            T.RandomHorizontalFlip() if random_flip else T.Lambda(lambda x: x),
            T.ToTensor(), T.Normalize([0.5], [0.5])])

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int):
        idx = self.indices[i]
        label = self.split["items"][idx]["label"]
        prompt = PROMPT_TEMPLATE.format(self.names[label], self.superclass).strip()
        return self.transform(open_image(self.split, idx)), prompt


def add_class_tokens(tokenizer, text_encoder, num_classes: int, init_token: str) -> list[int]:
    """Add ``<class_i>`` tokens, each row initialised from ``init_token``; returns their ids."""
    tokens = [TOKEN_TEMPLATE.format(i) for i in range(num_classes)]
    if tokenizer.add_tokens(tokens) != num_classes:
        raise ValueError(f"the tokenizer already holds some of {tokens[0]}..{tokens[-1]}")
    init_ids = ([int(init_token)] if init_token.isdigit()
                else tokenizer.encode(init_token, add_special_tokens=False))
    if len(init_ids) != 1 or not 0 <= init_ids[0] < len(tokenizer) - num_classes:
        raise ValueError(f"finetune.init_token = {init_token!r} is not one token of the base "
                         "vocabulary; give a token id (reference: 42170, the piece 'ktn') or a "
                         "word that is a single token such as 'bird'")
    text_encoder.resize_token_embeddings(len(tokenizer), mean_resizing=False)
    ids = tokenizer.convert_tokens_to_ids(tokens)
    with torch.no_grad():
        emb = text_encoder.get_input_embeddings().weight
        emb[ids] = emb[init_ids[0]].clone()
    return ids


def _add_lora(unet, rank: int, alpha: int | None) -> list[torch.nn.Parameter]:
    from peft import LoraConfig
    unet.add_adapter(LoraConfig(r=rank, lora_alpha=alpha or rank, init_lora_weights="gaussian",
                                target_modules=LORA_TARGETS))
    return [p for n, p in unet.named_parameters() if "lora" in n]


def _save(folder: Path, unet, text_encoder, token_ids: list[int], tokens: list[str], has_lora: bool) -> None:
    from diffusers import StableDiffusionPipeline
    from diffusers.utils import convert_state_dict_to_diffusers
    from peft.utils import get_peft_model_state_dict

    if has_lora:
        layers = convert_state_dict_to_diffusers(get_peft_model_state_dict(unet))
        StableDiffusionPipeline.save_lora_weights(str(folder), unet_lora_layers=layers,
                                                  safe_serialization=True)
    if token_ids:
        emb = text_encoder.get_input_embeddings().weight.detach().float().cpu()
        save_embeddings(folder, {t: emb[i] for t, i in zip(tokens, token_ids)})


def save_embeddings(folder: Path, vectors: dict[str, torch.Tensor]) -> None:
    """All class tokens in ``learned_embeds.safetensors`` and one file per token in ``embeddings/``,
    so the stock ``pipe.load_textual_inversion(sorted(glob("embeddings/*.safetensors")))`` restores
    all of them (the stock loader takes one token per file)."""
    vectors = {t: v.detach().float().cpu().clone().contiguous() for t, v in vectors.items()}
    save_file(vectors, str(Path(folder) / "learned_embeds.safetensors"))
    (Path(folder) / "embeddings").mkdir(exist_ok=True)
    for token, v in vectors.items():
        save_file({token: v}, str(Path(folder) / "embeddings" / f"{token.strip('<>')}.safetensors"))


def run_finetune(p: dict) -> Path:
    """Fine-tune the base model on the split's training images; returns the stage folder.

    With ``finetune.num_processes`` N > 1 on CUDA, N data-parallel processes are launched
    (``distributed.launch``); under torchrun / ``accelerate launch`` this process is one rank."""
    out = artifacts.finetune_dir(p)
    if artifacts.is_done(out):
        progress.already_complete("fine-tune", out)
        return out
    with job_threads(p):
        return locks.once(out, "fine-tune", lambda: _finetune(p, out))


def _finetune(p: dict, out: Path) -> Path:
    ft = p["finetune"]
    split = artifacts.open_split(p)
    work = out.parent / f"{out.name}.work"
    count = distributed.wanted_processes(ft["num_processes"], pick_device(p["device"]), "finetune")
    if count > 1:
        return distributed.launch("finetune", p, count, work, out)
    _train(p, split, out, work)
    return out


def _train(p: dict, split: dict, out: Path, work: Path) -> None:
    ft = p["finetune"]
    acc = distributed.make_accelerator(pick_device(p["device"]), ft["mixed_precision"])
    rank, world, device = acc.process_index, acc.num_processes, acc.device
    local_batch = distributed.global_batch_share(ft["batch_size"], world, "finetune")
    torch.manual_seed(ft["seed"] + 7919 * rank)  # random flips / crops: each rank its own draws

    # --- load tokenizer, text encoder, VAE, UNet and the DDPM noise schedule --------------------
    c = load_components(p["model"]["base"], artifacts.store(p), p["model"]["revision"])
    tokenizer, text_encoder, vae, unet, noise_scheduler = (
        c["tokenizer"], c["text_encoder"], c["vae"], c["unet"], c["noise_scheduler"])
    for m in (text_encoder, vae, unet):
        m.requires_grad_(False)
    classes, superclass = split["classes"], ft["superclass"] or split["superclass"]

    # --- class tokens (textual inversion) and LoRA adapters -------------------------------------
    use_ti = ft["mode"] in ("joint", "ti_then_lora", "ti_only")
    use_lora = ft["mode"] in ("joint", "ti_then_lora", "lora_only")
    ti_steps = (ft["ti_steps"] if ft["ti_steps"] is not None else ft["steps"] // 2) \
        if ft["mode"] == "ti_then_lora" else None
    tokens = [TOKEN_TEMPLATE.format(i) for i in range(len(classes))]
    token_ids = add_class_tokens(tokenizer, text_encoder, len(classes), ft["init_token"]) if use_ti else []
    groups = []
    if use_lora:
        groups.append({"params": _add_lora(unet, ft["lora_rank"], ft["lora_alpha"]), "lr": ft["lr"]})
    embedding = text_encoder.get_input_embeddings()
    if use_ti:
        embedding.weight.requires_grad_(True)
        groups.append({"params": [embedding.weight], "lr": ft["ti_lr"]})
        frozen_rows = torch.ones(embedding.weight.shape[0], dtype=torch.bool)
        frozen_rows[token_ids] = False
        original = embedding.weight.detach().clone()
    optimizer = torch.optim.AdamW(groups, betas=(0.9, 0.999), eps=1e-8, weight_decay=ft["weight_decay"])
    for m in (text_encoder, vae, unet):
        m.to(device)
    if use_ti:
        original, frozen_rows = original.to(device), frozen_rows.to(device)

    # --- resume from the newest checkpoint, if a previous run was interrupted ----------------------
    gen = torch.Generator(device="cpu").manual_seed(ft["seed"] + 1)  # latents, noise, timesteps
    lora_named = {n: q for n, q in unet.named_parameters() if "lora" in n}
    first, log = _resume(work, lora_named, embedding if use_ti else None, token_ids, optimizer, gen, rank, device)
    # DDP (and mixed precision) only around the modules that learn something
    wrapped_unet = acc.prepare(unet) if use_lora else unet
    wrapped_text = acc.prepare(text_encoder) if use_ti else text_encoder
    optimizer = acc.prepare(optimizer)

    # --- data: the split file's training images; the sample order is fixed up front --------------
    names = tokens if use_ti else prompt_classes(p["data"], classes)
    dataset = PromptedImages(split, split["train"], names, superclass, p["model"]["resolution"],
                             ft["center_crop"], ft["random_flip"])
    order = torch.randint(len(dataset), (ft["steps"] * ft["batch_size"],),
                          generator=torch.Generator().manual_seed(ft["seed"])).tolist()
    mine = [order[s * ft["batch_size"] + rank * local_batch + k]  # this rank's slice of every batch
            for s in range(first, ft["steps"]) for k in range(local_batch)]
    # its own generator: a DataLoader without one draws its base seed from the global RNG, which
    # would shift the transforms' random stream of a resumed run
    loader = DataLoader(dataset, batch_size=local_batch, sampler=mine, drop_last=True,
                        generator=torch.Generator().manual_seed(ft["seed"] + 2))
    mine_slice = slice(rank * local_batch, (rank + 1) * local_batch)

    # --- train ------------------------------------------------------------------------------------
    if ft["gradient_checkpointing"]:  # activations recomputed in backward: memory for time
        unet.enable_gradient_checkpointing()
    unet.train()
    text_encoder.train()
    start = time.time()
    for step, (pixels, prompts) in enumerate(progress.bar(loader, desc="fine-tune", unit="step", initial=first,
                                                  total=ft["steps"], disable=not acc.is_main_process), first + 1):
        pixels = pixels.to(device)
        ids = tokenizer(list(prompts), padding="max_length", truncation=True,
                        max_length=tokenizer.model_max_length, return_tensors="pt").input_ids.to(device)
        with torch.no_grad():
            dist = vae.encode(pixels).latent_dist
            # every rank draws the whole batch's randomness and keeps its slice: N ranks = 1 process
            shape = (ft["batch_size"], *dist.mean.shape[1:])
            latents = dist.mean + dist.std * torch.randn(shape, generator=gen)[mine_slice].to(device)
            latents = latents * vae.config.scaling_factor
        noise = torch.randn(shape, generator=gen)[mine_slice].to(device)
        t = torch.randint(0, noise_scheduler.config.num_train_timesteps, (ft["batch_size"],),
                          generator=gen)[mine_slice].to(device)
        noisy = noise_scheduler.add_noise(latents, noise, t)
        pred = wrapped_unet(noisy, t, wrapped_text(ids)[0]).sample
        loss = F.mse_loss(pred.float(), noise.float())
        acc.backward(loss)
        if ti_steps is not None:  # ti_then_lora: one phase learns, the other's grads are dropped
            for q in (groups[0]["params"] if step <= ti_steps else groups[1]["params"]):
                q.grad = None
        if use_lora and (ti_steps is None or step > ti_steps):
            acc.clip_grad_norm_(groups[0]["params"], ft["grad_clip"])
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if use_ti:  # only the class-token rows learn
            with torch.no_grad():
                embedding.weight[frozen_rows] = original[frozen_rows]
        log.append({"step": step, "loss": round(acc.reduce(loss.detach(), "mean").item(), 6)})
        if ft["checkpoint_every"] and step % ft["checkpoint_every"] == 0 and step < ft["steps"]:
            rngs = gather_object([rng_state(gen)])  # one entry per rank
            if acc.is_main_process:
                named = dict(lora_named)
                if use_ti:
                    named["embedding.rows"] = embedding.weight[token_ids]
                save_checkpoint(work, step, named, {"optimizer": optimizer.state_dict(), "step": step,
                                                    "log": log, "rng": rngs}, ft["checkpoint_limit"])
            acc.wait_for_everyone()

    # --- save in the formats diffusers loads, then publish the folder atomically ----------------
    if acc.is_main_process:
        _publish(p, out, unet, text_encoder, (token_ids, tokens, use_ti, use_lora), (classes, superclass), log,
                 {"steps": ft["steps"], "final_loss": log[-1]["loss"], "seconds": round(time.time() - start, 1),
                  "device": str(device), "processes": world, "resumed_from_step": first},
                 ft["mixed_precision"] + " autocast" if acc.mixed_precision != "no" else "fp32", device)
        shutil.rmtree(work, ignore_errors=True)
    acc.wait_for_everyone()


def _resume(work: Path, lora_named: dict, embedding, token_ids: list[int], optimizer, gen, rank: int, device):
    """(the step to continue after, the loss log so far) from the newest checkpoint in ``work``, its
    LoRA weights, class-token rows (``embedding``: None without textual inversion), optimizer and
    random state loaded in place; (0, []) when there is none."""
    resumed = load_latest(work)
    if resumed is None:
        return 0, []
    tensors, state = resumed
    with torch.no_grad():
        for n, q in lora_named.items():
            q.copy_(tensors[n])
        if embedding is not None:
            embedding.weight[token_ids] = tensors["embedding.rows"].to(device)
    optimizer.load_state_dict(state["optimizer"])
    restore_rng(state["rng"], gen, rank)
    print(f"rank {rank}: resuming the fine-tune from step {state['step']} ({work})")
    return state["step"], state["log"]


def _publish(p: dict, out: Path, unet, text_encoder, learned: tuple, names: tuple, log: list[dict], done: dict,
             precision: str, device) -> None:
    """The fine-tune's folder, written whole: LoRA and embeddings as diffusers loads them, the loss log,
    ``tokens.json``, ``provenance.json``, then the done marker (``done``). ``learned``: (token ids,
    tokens, textual inversion used, LoRA used); ``names``: (classes, superclass)."""
    ft, (token_ids, tokens, use_ti, use_lora), (classes, superclass) = p["finetune"], learned, names
    with atomic_dir(out) as tmp:
        _save(tmp, unet, text_encoder, token_ids, tokens, use_lora)
        (tmp / "log.jsonl").write_text("".join(json.dumps(r) + "\n" for r in log))
        artifacts.write_json(tmp / "tokens.json", {
            "mode": ft["mode"], "classes": classes, "superclass": superclass,
            "tokens": tokens if use_ti else [], "prompt_template": PROMPT_TEMPLATE,
            "init_token": ft["init_token"], "base": p["model"]["base"]})
        provenance.write(tmp, p, device, precision)
        artifacts.mark_done(tmp, done)


def run_stage(p: dict) -> list:
    """Run this stage for every sweep member that needs its own artifact folder."""
    return [run_finetune(m) for m in progress.members(jobs.stage_jobs(p, "finetune"), "finetune")]
