"""Reading images as every stage sees them: RGB, upright, 8 bits per channel, or one ``DatasetError``.

- EXIF orientation is applied (a photo stored sideways with an orientation tag comes out upright,
  as ``torchvision.io.decode_image(..., apply_exif_orientation=True)`` and most viewers show it);
- 16-bit and 32-bit grey images are scaled to 8 bits by their type's range (``convert("RGB")``
  alone would clip everything above 255 to white); float images by 0..1;
- palette images with transparency go through RGBA, so PIL's colours are kept; the alpha channel
  is then dropped, as torchvision's ``pil_loader`` does; CMYK, grey, 1-bit: ``convert("RGB")``;
- any error PIL raises for a file (unreadable, truncated, not an image, a decompression bomb) is
  one ``DatasetError`` naming the file.
``verify_images`` decodes every listed image once when the split file is made, so a truncated file
stops the split, not the training run hours later, and finds files listed twice or with the same
bytes in two splits or classes.
"""
from __future__ import annotations

import hashlib
import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from .common import DatasetError

_SCALE = {"I;16": 65535.0, "I;16B": 65535.0, "I;16L": 65535.0, "I;16N": 65535.0, "I": 65535.0, "F": 1.0}


def to_rgb(img: Image.Image) -> Image.Image:
    """The RGB, upright, 8-bit version of an opened image (see the module docstring)."""
    img = ImageOps.exif_transpose(img)
    if img.mode in _SCALE:
        arr = np.asarray(img, dtype=np.float64)
        top = _SCALE[img.mode] if img.mode != "I" or arr.max() > 255 else 255.0
        img = Image.fromarray(np.clip(np.round(arr / top * 255.0), 0, 255).astype(np.uint8), "L")
    elif img.mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
    return img.convert("RGB")


def read_image(path: Path | str) -> Image.Image:
    """An RGB image from disk, or one ``DatasetError`` naming the file."""
    try:
        with Image.open(path) as img:
            return to_rgb(img)
    except Exception as exc:  # PIL raises OSError, SyntaxError, ValueError, DecompressionBombError, ...
        raise DatasetError(f"image {str(path)!r} cannot be read ({type(exc).__name__}: {exc})") from None


def _decode(path: Path) -> str:
    """Decode the whole file (a truncated one fails here); returns the sha1 of its bytes."""
    data = path.read_bytes()
    try:
        with Image.open(io.BytesIO(data)) as img:
            img.load()
    except Exception as exc:
        raise DatasetError(f"image {str(path)!r} cannot be read ({type(exc).__name__}: {exc}); "
                           "remove it or replace it with a readable copy") from None
    return hashlib.sha1(data).hexdigest()


def verify_images(root: Path, items: list[dict], allow_duplicates: bool = False) -> None:
    """Every listed image exists, decodes completely and is listed once; identical bytes in two
    splits (test images seen in training) or under two labels are refused unless allowed."""
    from tqdm.auto import tqdm
    seen_paths, by_hash = set(), {}
    for it in tqdm(items, desc="checking images", leave=False, disable=len(items) < 2000):
        path = Path(root) / it["path"]
        if it["path"] in seen_paths:
            raise DatasetError(f"image {str(path)!r} is listed twice by the dataset's index")
        seen_paths.add(it["path"])
        if not path.is_file():
            raise DatasetError(f"image {str(path)!r} is listed by the dataset's index but does not exist")
        digest = _decode(path)
        first = by_hash.setdefault(digest, it)
        if first is it or allow_duplicates:
            continue
        if (first["split"] == "test") != (it["split"] == "test") or first["label"] != it["label"]:
            why = "a test image would be seen in training" if first["label"] == it["label"] else \
                "its label would be ambiguous"
            raise DatasetError(f"images {str(Path(root) / first['path'])!r} and {str(path)!r} have the same bytes "
                               f"({first['split']}/{first['label']} and {it['split']}/{it['label']}): {why}; "
                               "remove one, or set data.allow_duplicates: true to keep both")
