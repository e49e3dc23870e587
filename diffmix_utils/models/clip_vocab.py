"""Build the real CLIP BPE tokenizer files (``vocab.json`` + ``merges.txt``) offline.

The original CLIP vocabulary (MIT licence, OpenAI CLIP) ships inside the PyPI package
``open_clip_torch`` as ``open_clip/bpe_simple_vocab_16e6.txt.gz``. CLIP uses its first 48,894
merges; the vocabulary is the 256 byte-level symbols, the same with ``</w>``, one token per merge
and the two special tokens: 49,408 ids, exactly SD-1.5's. The kit commits the result under
``models/assets/clip-tokenizer/``; this module regenerates it:

    python -m diffmix_utils.models.clip_vocab [out_dir]
"""
from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path

NUM_MERGES = 49152 - 256 - 2  # = 48,894, as in CLIP's own SimpleTokenizer
ASSET_DIR = Path(__file__).parent / "assets" / "clip-tokenizer"


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2/CLIP byte -> printable unicode symbol table."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


def build(out_dir: Path = ASSET_DIR) -> Path:
    import open_clip  # only needed to regenerate the committed files
    bpe = Path(open_clip.__file__).parent / "bpe_simple_vocab_16e6.txt.gz"
    merges = gzip.open(bpe).read().decode("utf-8").split("\n")[1:NUM_MERGES + 1]
    symbols = list(bytes_to_unicode().values())
    vocab = symbols + [s + "</w>" for s in symbols] + ["".join(m.split()) for m in merges]
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(vocab)}, ensure_ascii=False))
    (out_dir / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n")
    return out_dir


def load_tokenizer(folder: Path = ASSET_DIR):
    """A ``transformers.CLIPTokenizer`` from the committed files (77-token context, as SD)."""
    from transformers import CLIPTokenizer
    return CLIPTokenizer(str(Path(folder) / "vocab.json"), str(Path(folder) / "merges.txt"),
                         model_max_length=77)


def parser():
    """The command line of ``python -m diffmix_utils.models.clip_vocab`` (docs/cli.md is generated from it)."""
    import argparse
    ap = argparse.ArgumentParser(prog="python -m diffmix_utils.models.clip_vocab",
                                 description="Build the CLIP BPE tokenizer files offline (from open_clip_torch).")
    ap.add_argument("out_dir", nargs="?", type=Path, default=ASSET_DIR,
                    help="where vocab.json and merges.txt go (default: the committed asset folder)")
    return ap


if __name__ == "__main__":
    print(build(parser().parse_args(sys.argv[1:]).out_dir))
