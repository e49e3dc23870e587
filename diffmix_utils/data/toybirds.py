"""``toybirds``: a small fine-grained bird dataset the kit renders itself (numpy + PIL, no download).

Classes share one body plan and differ in small foreground details: body colour (4), head colour
(2) and tail shape (2), so up to 16 classes. The background (sky over grass, sand or forest: the
"land" family; sea or lake: the "water" family), the pose (facing left or right), scale and
position are drawn independently of the class, so the background is not class evidence and an
inter-class translation that keeps the background and changes the bird is measurable.

Rendering is a pure function of (class, split, index): the same files on every machine. The
folder is written to a temp name and renamed when complete, so a killed render leaves nothing.
"""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from ..atomic import atomic_dir

BODY = {"Red": (200, 40, 40), "Blue": (40, 80, 200), "Yellow": (230, 200, 40), "Green": (40, 160, 60)}
HEAD = {"White": (245, 245, 245), "Black": (25, 25, 25)}
TAIL = ("Fork", "Fan")
BACKGROUNDS = {  # name: (family, sky top, sky bottom, ground, ground texture strength)
    "grass": ("land", (120, 170, 230), (190, 215, 240), (70, 140, 50), 28),
    "sand": ("land", (150, 190, 235), (215, 225, 240), (215, 190, 130), 18),
    "forest": ("land", (110, 150, 200), (160, 190, 210), (40, 80, 40), 35),
    "sea": ("water", (120, 170, 230), (200, 220, 245), (30, 80, 150), 14),
    "lake": ("water", (140, 175, 215), (190, 205, 225), (60, 120, 140), 10),
}
SUPERCLASS = "bird"
WATER_BODIES = ("Blue", "Green")  # the "waterbird" group of the background-shift split
RENDER_VERSION = 1
SPLIT_CODES = {"train": 0, "test": 1, "oracle": 2, "oracle-test": 3}  # disjoint image streams
_SUPERSAMPLE = 4


def class_attributes(c: int) -> tuple[str, str, str]:
    """(body, head, tail) of class ``c``: the first 8 classes vary body and head, 8-15 the tail."""
    return list(BODY)[c % 4], list(HEAD)[(c // 4) % 2], TAIL[c // 8]


def class_name(c: int) -> str:
    body, head, tail = class_attributes(c)
    return f"{body} {head}-headed {tail}tail"


def render_background(rng: np.random.Generator, kind: str, size: int) -> Image.Image:
    _, top, bottom, ground, texture = BACKGROUNDS[kind]
    horizon = int(size * rng.uniform(0.45, 0.65))
    rows = np.linspace(0, 1, horizon)[:, None, None]
    sky = (1 - rows) * np.array(top) + rows * np.array(bottom)
    sky = np.broadcast_to(sky, (horizon, size, 3))
    low = np.broadcast_to(np.array(ground, float), (size - horizon, size, 3)).copy()
    noise = rng.normal(0, texture, (size - horizon, size, 1))
    if kind in ("sea", "lake"):  # horizontal ripples
        noise = noise * 0.4 + texture * np.sin(np.arange(size - horizon)[:, None, None] * 1.3
                                               + rng.uniform(0, 6.28))
    arr = np.concatenate([sky, low + noise], axis=0)
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))


def draw_bird(draw: ImageDraw.ImageDraw, bcol: tuple, hcol: tuple, tail: str, cx: float, cy: float,
              r: float, facing: int) -> None:
    """Draw one bird: body and head colours (RGB), tail 'Fork' or 'Fan', centre, size, facing +-1."""
    tail_x = cx - facing * 1.5 * r
    if tail == "Fork":
        draw.polygon([(cx - facing * 0.8 * r, cy), (tail_x - facing * 0.6 * r, cy - 0.7 * r),
                      (tail_x, cy), (tail_x - facing * 0.6 * r, cy + 0.7 * r)], fill=bcol)
    else:
        draw.pieslice([tail_x - 1.0 * r, cy - 0.8 * r, tail_x + 1.0 * r, cy + 0.8 * r],
                      start=150 if facing > 0 else -30, end=210 if facing > 0 else 30, fill=bcol)
    draw.ellipse([cx - 1.1 * r, cy - 0.7 * r, cx + 1.1 * r, cy + 0.7 * r], fill=bcol)
    hx, hy, hr = cx + facing * 0.95 * r, cy - 0.6 * r, 0.5 * r
    draw.ellipse([hx - hr, hy - hr, hx + hr, hy + hr], fill=hcol)
    draw.polygon([(hx + facing * 0.4 * hr, hy - 0.25 * hr), (hx + facing * 1.6 * hr, hy),
                  (hx + facing * 0.4 * hr, hy + 0.3 * hr)], fill=(240, 150, 30))
    er = 0.13 * hr * 1.5
    eye = (hx + facing * 0.25 * hr, hy - 0.2 * hr)
    draw.ellipse([eye[0] - er, eye[1] - er, eye[0] + er, eye[1] + er],
                 fill=(230, 230, 230) if sum(hcol) < 200 else (10, 10, 10))
    draw.line([(cx - 0.2 * r, cy + 0.65 * r), (cx - 0.2 * r, cy + 1.1 * r)], fill=(90, 60, 30),
              width=max(1, int(r * 0.12)))


def bird_group(c: int) -> str:
    """'water' for the waterbird group (blue or green body), else 'land'."""
    return "water" if class_attributes(c)[0] in WATER_BODIES else "land"


def shifted_background(c: int, split: str, index: int, match: float) -> str:
    """Waterbirds-style background: in train the background family equals the class group with
    probability ``match``; in test it is always the other family (the correlation is flipped)."""
    rng = np.random.default_rng([RENDER_VERSION, c, SPLIT_CODES[split], index, 99])
    same = split == "train" and rng.random() < match
    family = bird_group(c) if same else ("land" if bird_group(c) == "water" else "water")
    kinds = [k for k, v in BACKGROUNDS.items() if v[0] == family]
    return kinds[int(rng.integers(len(kinds)))]


def render_image(c: int, split: str, index: int, size: int, background: str | None = None) -> tuple[Image.Image, str]:
    """Render one image of class ``c``; returns (image, background kind). Pure function of its args."""
    rng = np.random.default_rng([RENDER_VERSION, c, SPLIT_CODES[split], index])
    kind = background or list(BACKGROUNDS)[rng.integers(len(BACKGROUNDS))]
    big = size * _SUPERSAMPLE
    img = render_background(rng, kind, big)
    draw = ImageDraw.Draw(img)
    r = big * rng.uniform(0.14, 0.2)
    cx = big * rng.uniform(0.35, 0.65)
    cy = big * rng.uniform(0.4, 0.6)
    body, head, tail = class_attributes(c)
    draw_bird(draw, BODY[body], HEAD[head], tail, cx, cy, r, int(rng.choice([-1, 1])))
    img = img.filter(ImageFilter.GaussianBlur(_SUPERSAMPLE * 0.3)).resize((size, size), Image.LANCZOS)
    return img, kind


def ensure_rendered(folder: Path, num_classes: int, train_per_class: int, test_per_class: int,
                    size: int, background_match: float | None = None) -> Path:
    """Render the dataset into ``folder`` unless it is already complete; returns the folder.

    ``background_match`` (Waterbirds-style shift, see ``shifted_background``): None draws every
    background uniformly, independent of the class.

    Layout: ``{train,test}/<class id>/<index>.png`` (an ImageFolder) and ``metadata.csv`` with the
    class, its foreground attributes, the background kind and family, and the split.
    """
    folder = Path(folder)
    if (folder / "metadata.csv").is_file():
        return folder
    with atomic_dir(folder, keep_existing=True) as tmp:  # two processes may render at once (ranks)
        rows = []
        for split, n in (("train", train_per_class), ("test", test_per_class)):
            for c in range(num_classes):
                (tmp / split / f"{c:02d}").mkdir(parents=True)
                for i in range(n):
                    forced = (None if background_match is None
                              else shifted_background(c, split, i, background_match))
                    img, kind = render_image(c, split, i, size, forced)
                    rel = f"{split}/{c:02d}/{i:05d}.png"
                    img.save(tmp / rel)
                    body, head, tail = class_attributes(c)
                    rows.append({"path": rel, "split": split, "label": c, "class_name": class_name(c),
                                 "body": body, "head": head, "tail": tail, "background": kind,
                                 "background_family": BACKGROUNDS[kind][0], "group": bird_group(c)})
        with open(tmp / "metadata.csv", "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    return folder


def read_metadata(folder: Path) -> list[dict]:
    with open(Path(folder) / "metadata.csv", newline="") as fh:
        return list(csv.DictReader(fh))
