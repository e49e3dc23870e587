"""Property tests of the dataset readers (hypothesis): random small ImageFolder datasets on disk --
empty folders, corrupt, truncated and empty files, odd image modes, one-pixel images, duplicates --
either give a split whose every image reads as RGB and passes the classifier transforms, or raise
``DatasetError`` naming the offending class or file; never another exception, and no split file is
written on a refusal."""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from diffmix_utils.data import DatasetError, ensure_split, open_image
from diffmix_utils.models.classifiers import classifier_transforms

from conftest import tiny_params

GOOD = ["rgb", "gray", "palette", "palette_alpha", "rgba", "i16", "cmyk_jpeg", "one_pixel", "exif_rotated", "bw"]
BAD = ["corrupt", "truncated", "empty", "text"]


def image_bytes(kind: str, seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    rgb = Image.fromarray(rng.integers(0, 256, (12, 9, 3), dtype=np.uint8), "RGB")
    buf = io.BytesIO()
    if kind == "rgb":
        rgb.save(buf, "PNG")
    elif kind == "gray":
        rgb.convert("L").save(buf, "PNG")
    elif kind == "bw":
        rgb.convert("1").save(buf, "PNG")
    elif kind == "palette":
        rgb.convert("P").save(buf, "PNG")
    elif kind == "palette_alpha":
        rgb.convert("P").save(buf, "PNG", transparency=0)
    elif kind == "rgba":
        rgb.convert("RGBA").save(buf, "PNG")
    elif kind == "i16":
        Image.fromarray(rng.integers(0, 65536, (12, 9), dtype=np.uint16)).save(buf, "PNG")
    elif kind == "cmyk_jpeg":
        rgb.convert("CMYK").save(buf, "JPEG")
    elif kind == "one_pixel":
        rgb.resize((1, 1)).save(buf, "PNG")
    elif kind == "exif_rotated":
        exif = Image.Exif()
        exif[0x0112] = 6  # orientation: rotate 90° clockwise to display
        rgb.save(buf, "JPEG", exif=exif)
    elif kind == "corrupt":
        buf.write(b"\x89PNG\r\n\x1a\n" + rng.bytes(40))
    elif kind == "truncated":
        rgb.resize((64, 64)).save(buf, "JPEG")
        return buf.getvalue()[:200]
    elif kind == "text":
        buf.write(b"not an image at all")
    return buf.getvalue()  # "empty": no bytes


@st.composite
def imagefolder(draw):
    """{(split, class): [kind, ...]}: 0-3 classes, 0-3 files per class and split, some duplicated."""
    classes = draw(st.integers(0, 3))
    kinds = st.sampled_from(GOOD * 3 + BAD)
    layout = {(split, c): draw(st.lists(kinds, max_size=3 if split == "train" else 2))
              for c in range(classes) for split in ("train", "test")}
    duplicate = draw(st.booleans())
    return layout, duplicate


def write(root: Path, layout: dict, duplicate: bool) -> list[Path]:
    files = []
    for split in ("train", "test"):
        (root / split).mkdir(parents=True, exist_ok=True)
    for (split, c), kinds in layout.items():
        folder = root / split / f"class_{c}"
        folder.mkdir(parents=True, exist_ok=True)
        for k, kind in enumerate(kinds):
            path = folder / f"{k}_{kind}.{'jpg' if 'jpeg' in kind or kind in ('exif_rotated', 'truncated') else 'png'}"
            path.write_bytes(image_bytes(kind, hash((split, c, k)) % 1000))
            files.append(path)
    if duplicate and len(files) >= 2:  # the same bytes as the first file, elsewhere
        files[-1].write_bytes(files[0].read_bytes())
    return files


@settings(max_examples=settings.default.max_examples * 2 // 5, deadline=None,  # 60 in make test
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(case=imagefolder())
def test_datasets_split_cleanly_or_name_the_problem(case, tmp_path_factory):
    layout, duplicate = case
    tmp = tmp_path_factory.mktemp("ds")
    files = write(tmp / "data", layout, duplicate)
    p = tiny_params(tmp / "runs", data={"dataset": "imagefolder", "root": str(tmp / "data"), "val_fraction": 0.0})
    split_path = tmp / "split.json"
    try:
        split = ensure_split(split_path, p["data"], tmp / "cache")
    except DatasetError as exc:
        message = str(exc)
        assert "\n" not in message.strip(), message
        named = [str(tmp / "data"), "class_", *(f.name for f in files), "classes"]
        assert any(n in message for n in named), message
        assert not split_path.exists()
        return
    assert split_path.is_file() and len(split["classes"]) >= 2
    _, tf = classifier_transforms(16)
    for i in split["train"] + split["test"]:
        image = open_image(split, i)
        assert image.mode == "RGB" and min(image.size) >= 1
        assert tuple(tf(image).shape) == (3, 16, 16)


def test_exif_orientation_is_applied(tmp_path):
    from diffmix_utils.data import read_image
    path = tmp_path / "rotated.jpg"
    path.write_bytes(image_bytes("exif_rotated", 0))
    assert read_image(path).size == (12, 9)  # stored 9 x 12 (w x h), displayed rotated: 12 x 9


def test_sixteen_bit_images_keep_their_contrast(tmp_path):
    from diffmix_utils.data import read_image
    ramp = (np.arange(16 * 16, dtype=np.uint32).reshape(16, 16) * 257).astype(np.uint16)  # 0 .. 65535
    Image.fromarray(ramp).save(tmp_path / "ramp.png")
    values = np.asarray(read_image(tmp_path / "ramp.png"))[..., 0]
    assert (values == np.arange(256).reshape(16, 16)).all()  # scaled by the type's range, not clipped to white


def _folder(root: Path, layout: dict) -> Path:
    """``{(split, class): count}`` of distinct small RGB images."""
    for split in ("train", "test"):
        (root / split).mkdir(parents=True, exist_ok=True)
    for k, ((split, c), n) in enumerate(layout.items()):
        (root / split / c).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            (root / split / c / f"{i}.png").write_bytes(image_bytes("rgb", 1000 * k + i))
    return root


@pytest.mark.parametrize("layout, data, message", [
    ({("train", "a"): 3, ("test", "a"): 2}, {}, "has 1 class ('a'); classification needs at least two"),
    ({("train", "a"): 3, ("test", "a"): 2, ("train", "b"): 3}, {}, "classes 1 (b) have no test images"),
    ({("train", "a"): 3, ("test", "a"): 1, ("train", "b"): 1, ("test", "b"): 1}, {"shots": 2},
     "data.shots = 2 but classes 1 (b) have only 1 train images"),
    ({("train", "a"): 3, ("test", "a"): 1, ("train", "b"): 1, ("test", "b"): 1}, {"val_fraction": 0.5},
     "class 1 (b) has 1 train images; val_fraction 0.5 leaves none to train on"),
    ({("train", "a"): 1, ("test", "b"): 1}, {}, "test class folder 'b'"),
])
def test_degenerate_datasets_are_refused_at_the_split(tmp_path, layout, data, message):
    root = _folder(tmp_path / "data", layout)
    p = tiny_params(tmp_path / "runs", data={"dataset": "imagefolder", "root": str(root), "val_fraction": 0.0, **data})
    split_path = tmp_path / "split.json"
    with pytest.raises(DatasetError) as info:
        ensure_split(split_path, p["data"], tmp_path / "cache")
    assert message in str(info.value) and not split_path.exists()


def test_duplicates_across_splits_are_refused_unless_allowed(tmp_path):
    root = _folder(tmp_path / "data", {("train", "a"): 2, ("test", "a"): 1, ("train", "b"): 2, ("test", "b"): 1})
    (root / "test" / "a" / "0.png").write_bytes((root / "train" / "a" / "1.png").read_bytes())
    p = tiny_params(tmp_path / "runs", data={"dataset": "imagefolder", "root": str(root), "val_fraction": 0.0})
    with pytest.raises(DatasetError, match="have the same bytes .* a test image would be seen in training"):
        ensure_split(tmp_path / "s1.json", p["data"], tmp_path / "cache")
    p = tiny_params(tmp_path / "runs", data={"dataset": "imagefolder", "root": str(root), "val_fraction": 0.0,
                                             "allow_duplicates": True})
    assert len(ensure_split(tmp_path / "s2.json", p["data"], tmp_path / "cache")["test"]) == 2


def test_labels_outside_the_class_list_are_refused():
    from diffmix_utils.data import check_items
    with pytest.raises(DatasetError, match="image 'x.png' has label 5, which is not one of the 2 classes"):
        check_items(["a", "b"], [{"path": "x.png", "label": 5, "split": "train"}], "here")
    with pytest.raises(DatasetError, match="has split 'dev'; valid: train, val, test"):
        check_items(["a", "b"], [{"path": "x.png", "label": 1, "split": "dev"}], "here")


def test_very_large_and_one_pixel_images_read(tmp_path):
    from diffmix_utils.data import read_image
    big = tmp_path / "big.jpg"
    Image.new("RGB", (6000, 4000), (10, 200, 30)).save(big, quality=50)
    assert read_image(big).size == (6000, 4000)
    tiny = tmp_path / "tiny.png"
    Image.new("L", (1, 1), 77).save(tiny)
    _, tf = classifier_transforms(16)
    assert tuple(tf(read_image(tiny)).shape) == (3, 16, 16)
