"""Convert a released Diff-Mix fine-tune folder into the kit's stock-loadable artifacts.

    python -m diffmix_utils.finetune.convert LEGACY_DIR OUT_DIR [--superclass bird]

Input (the reference's ``save_attn_procs`` + ``save_progress`` output, docs/method.md §A.3):
- ``pytorch_lora_weights.safetensors`` with legacy attention-processor keys
  ``<block path>.processor.to_{q,k,v,out}_lora.{down,up}.weight`` -- current diffusers loads these
  as a silent no-op;
- ``learned_embeds-steps-last.bin``: a torch-saved dict ``{"learned_embeds_dict": {"<class_i>":
  vector}, "name2placeholder": {...}, "placeholder2name": {...}}``, read with
  ``torch.load(weights_only=True)`` only: a file that needs code to unpickle is refused.
Output: ``pytorch_lora_weights.safetensors`` (diffusers keys, ``pipe.load_lora_weights``),
``learned_embeds.safetensors`` plus ``embeddings/<class_i>.safetensors`` (stock
``load_textual_inversion``), ``tokens.json`` and ``done.json``; the folder appears atomically.
"""
from __future__ import annotations

import argparse
import pickle
import re
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from .. import artifacts
from ..atomic import atomic_dir
from ..strategies import PROMPT_TEMPLATE
from .stage import save_embeddings

LEGACY_KEY = re.compile(r"^(?P<block>.+)\.processor\.(?P<proj>to_q|to_k|to_v|to_out)_lora\.(?P<kind>down|up)\.weight$")
LORA_FILE, TI_FILE = "pytorch_lora_weights.safetensors", "learned_embeds-steps-last.bin"


class ConvertError(ValueError):
    """The input is not a Diff-Mix fine-tune folder in the legacy layout; names the path."""


def convert_lora(state: dict[str, torch.Tensor], source: Path) -> dict[str, torch.Tensor]:
    """Legacy attention-processor LoRA keys -> the keys ``load_lora_weights`` reads."""
    out = {}
    for key, value in state.items():
        m = LEGACY_KEY.match(key)
        if m is None:
            raise ConvertError(f"{source}: key {key!r} is not in the legacy attention-processor layout "
                               "('<block>.processor.to_q_lora.down.weight'); is it already converted?")
        proj = "to_out.0" if m["proj"] == "to_out" else m["proj"]
        out[f"unet.{m['block']}.{proj}.lora.{m['kind']}.weight"] = value.float().contiguous()
    if not out:
        raise ConvertError(f"{source} holds no tensors")
    return out


def read_legacy_embeddings(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """(token -> vector, token -> class name) from the reference's ``.bin``, safely."""
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, AttributeError, EOFError) as exc:
        raise ConvertError(f"{path} cannot be read as plain tensors and strings (weights_only=True), so it "
                           f"is refused: loading it would run code ({str(exc).splitlines()[0]})") from None
    if not isinstance(blob, dict) or "learned_embeds_dict" not in blob:
        found = list(blob)[:5] if isinstance(blob, dict) else type(blob).__name__
        raise ConvertError(f"{path} has no 'learned_embeds_dict'; found: {found}")
    embeds = {str(k): v.detach().float().reshape(-1) for k, v in blob["learned_embeds_dict"].items()}
    names = {str(k): str(v) for k, v in blob.get("placeholder2name", {}).items()}
    return embeds, names


def _class_index(token: str) -> int:
    m = re.fullmatch(r"<class_(\d+)>", token)
    if m is None:
        raise ConvertError(f"placeholder {token!r} is not of the form <class_i>")
    return int(m[1])


def convert(legacy: Path, out: Path, superclass: str = "") -> Path:
    legacy, out = Path(legacy), Path(out)
    if not legacy.is_dir():
        raise ConvertError(f"{legacy} is not a folder; give the Diff-Mix fine-tune folder holding {LORA_FILE} "
                           f"and {TI_FILE}")
    lora_path, ti_path = legacy / LORA_FILE, legacy / TI_FILE
    if not lora_path.is_file():
        pickled = sorted(p.name for p in legacy.glob("*lora*.bin"))
        hint = f" (found {pickled[0]}: a pickled LoRA is refused; only safetensors are read)" if pickled else ""
        raise ConvertError(f"{lora_path} does not exist{hint}")
    if not ti_path.is_file():
        raise ConvertError(f"{ti_path} does not exist")
    try:
        lora = convert_lora(load_file(str(lora_path)), lora_path)
    except (OSError, ValueError) as exc:
        if isinstance(exc, ConvertError):
            raise
        raise ConvertError(f"{lora_path} is not a safetensors file ({exc}); pickled LoRA files are refused") from None
    embeds, names = read_legacy_embeddings(ti_path)
    tokens = sorted(embeds, key=_class_index)
    if [_class_index(t) for t in tokens] != list(range(len(tokens))):
        raise ConvertError(f"{ti_path}: placeholders must be <class_0>..<class_{len(tokens) - 1}> without gaps")
    with atomic_dir(out) as tmp:
        save_file(lora, str(tmp / LORA_FILE), metadata={"format": "pt"})
        save_embeddings(tmp, {t: embeds[t] for t in tokens})
        artifacts.write_json(tmp / "tokens.json", {
            "mode": "joint", "classes": [names.get(t, t) for t in tokens], "superclass": superclass,
            "tokens": tokens, "prompt_template": PROMPT_TEMPLATE, "converted_from": str(legacy.resolve())})
        artifacts.mark_done(tmp, {"converted_from": str(legacy.resolve()), "lora_tensors": len(lora),
                                  "tokens": len(tokens)})
    return out


def parser() -> argparse.ArgumentParser:
    """The command line of ``python -m diffmix_utils.finetune.convert`` (docs/cli.md is generated from it)."""
    ap = argparse.ArgumentParser(prog="python -m diffmix_utils.finetune.convert",
                                 description="Convert a released Diff-Mix fine-tune folder to the kit's format.")
    ap.add_argument("legacy_dir", type=Path, help="the released fine-tune folder (the reference code's layout)")
    ap.add_argument("out_dir", type=Path, help="where the kit's safetensors files are written")
    ap.add_argument("--superclass", default="", help="the dataset's prompt super-class (bird, flower, ...)")
    return ap


def main(argv=None) -> int:
    ap = parser()
    a = ap.parse_args(argv)
    try:
        print(convert(a.legacy_dir, a.out_dir, a.superclass))
    except ConvertError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
