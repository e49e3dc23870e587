"""docs/own-dataset.md's example, params/examples/own_imagefolder.yaml, on a small ImageFolder made
here: the file validates, plans from the folder's real counts, and its split and prompts are what the
page says (folder names cleaned into class names, the superclass after them, K shots per class)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from diffmix_utils import params
from diffmix_utils.data import ensure_split
from diffmix_utils.strategies import PROMPT_TEMPLATE

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "params" / "examples" / "own_imagefolder.yaml"
FOLDERS = ["002.Grey_Heron", "Red_Fox", "Snow_Owl"]


def _imagefolder(root: Path, train: int = 8, test: int = 2) -> Path:
    rng = np.random.default_rng(0)
    for c, name in enumerate(FOLDERS):
        for split, n in (("train", train), ("test", test)):
            (root / split / name).mkdir(parents=True, exist_ok=True)
            for i in range(n):
                pixels = rng.integers(0, 255, (32, 32, 3), dtype=np.uint8) // 4 + 60 * c
                Image.fromarray(pixels).save(root / split / name / f"{i}.png")
    return root


def test_the_example_plans_from_the_folder_and_splits_as_documented(tmp_path):
    data = _imagefolder(tmp_path / "my_images")
    sets = [f"data.root={data}", f"workdir={tmp_path / 'runs'}"]
    p = params.load(EXAMPLE, params.parse_overrides(sets))
    assert p["data"]["dataset"] == "imagefolder" and p["data"]["shots"] == 5

    r = subprocess.run([sys.executable, "-m", "diffmix_utils.run", str(EXAMPLE), "--plan",
                        *[w for s in sets for w in ("--set", s)]], cwd=ROOT, capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "train      6 job(s)" in r.stdout  # baseline and Diff-Mix, three seeds
    cost = next(line for line in r.stdout.splitlines() if line.startswith("cost ("))
    assert "≈" not in cost, cost  # counted from the folder, not a nominal size
    assert "synthesize 75 images" in r.stdout  # 5 per real image, 3 classes x 5 shots

    split = ensure_split(tmp_path / "split.json", p["data"], tmp_path / "cache")
    assert split["classes"] == ["Grey Heron", "Red Fox", "Snow Owl"] and split["superclass"] == "animal"
    per_class = np.bincount([split["items"][i]["label"] for i in split["train"]], minlength=3)
    assert per_class.tolist() == [5, 5, 5]
    assert len(split["test"]) == 6
    assert PROMPT_TEMPLATE.format(split["classes"][1], split["superclass"]) == "a photo of a Red Fox animal"
