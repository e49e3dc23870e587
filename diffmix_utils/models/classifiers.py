"""Classifiers by timm name (``resnet50``, or ``name.tag`` for one set of pretrained weights such as
``resnet50.tv_in1k``) or torchvision name (``torchvision:vit_b_16`` with ``train.weights`` one of
its weight enums, e.g. ``IMAGENET1K_SWAG_E2E_V1``), and the reference's train / eval transforms.

The reference trains torchvision's ImageNet ResNet-50 (``IMAGENET1K_V1`` = timm's ``resnet50.tv_in1k``)
@224 and @448, and torchvision's ViT-B/16 with ``IMAGENET1K_SWAG_E2E_V1`` @384 (timm has no SWAG
ViT-B/16). The offline demo uses a small one (``resnet18`` at 64 px). ``train.weights:
bundled:toy-regnet`` (with ``train.backbone: regnetx_002``) starts from the classifier the kit pretrains
on rendered generic birds, the offline stand-in for ImageNet weights (``pretrain_classifier``).
"""
from __future__ import annotations

from torchvision import transforms as T

from ..artifacts.files import check_safetensors, rebuild_hint
from ..backbones import TORCHVISION, architecture  # noqa: F401
from ..bundled import BUNDLED, BUNDLED_CLASSIFIERS, BUNDLED_DIR, bundled_config, bundled_folder  # noqa: F401

IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def load_bundled_weights(model, weights: str):
    """Load a bundled classifier's weights into ``model`` (same architecture) except its final layer,
    which keeps the new head for this dataset's classes. Safetensors only."""
    from safetensors.torch import load_file
    folder = bundled_folder(weights)
    state = load_file(str(check_safetensors(folder / "model.safetensors", f"rebuild it: python -m "
                                            f"diffmix_utils.models.pretrain_classifier {folder}")))
    head = {k for k, v in model.state_dict().items() if k.startswith(("fc.", "head.", "classifier."))}
    state = {k: v.float() if v.is_floating_point() else v for k, v in state.items() if k not in head}
    missing, unexpected = model.load_state_dict(state, strict=False)
    if set(missing) != head or unexpected:
        raise ValueError(f"{folder} does not fit {type(model).__name__}: missing {sorted(set(missing) - head)[:3]}, "
                         f"unexpected {unexpected[:3]}")
    return model


def create_classifier(backbone: str, num_classes: int, pretrained: bool, kwargs: dict | None = None,
                      weights: str | None = None):
    """A classifier with ``num_classes`` outputs: ``timm.create_model`` (``kwargs``: its extra arguments,
    e.g. ``img_size``, ``drop_path_rate``) or, for ``torchvision:<name>``, ``torchvision.models.get_model``
    with ``weights`` (an enum name) and a new head. With ``pretrained`` the weights must already be in
    the local cache (``python -m diffmix_utils.fetch`` puts them there)."""
    try:
        model = architecture(backbone, num_classes, kwargs, weights, pretrained)
        if weights and weights.startswith(BUNDLED) and next(model.parameters()).device.type != "meta":
            load_bundled_weights(model, weights)
        return model
    except Exception as exc:  # timm and torchvision raise several types when hub weights are missing offline
        if not pretrained or isinstance(exc, ValueError):
            raise
        raise OSError(f"train.pretrained = true but the weights of {backbone!r}"
                      f"{f' ({weights})' if weights else ''} are not in the local cache and cannot be "
                      f"downloaded here ({type(exc).__name__}); fetch them on a connected machine "
                      "(python -m diffmix_utils.fetch PARAMS) or set train.pretrained: false") from None


# the reference's res_mode table (docs/method.md §C.1): crop -> square resize before it
REFERENCE_RESIZE = {224: 256, 384: 440, 448: 512, 28: 32}


def classifier_transforms(size: int) -> tuple:
    """(train, eval): square resize, random resp. centre crop to ``size``, flip, normalise. At the
    reference's resolutions (224 / 384 / 448) exactly its recipe: resize 256 / 440 / 512 and
    ``RandomCrop(size, padding=8)``; elsewhere resize to size*8/7 and crop without padding."""
    resize = REFERENCE_RESIZE.get(size, round(size * 8 / 7))
    padding = 8 if size in REFERENCE_RESIZE else 0
    norm = [T.ToTensor(), T.Normalize(IMAGENET_MEAN, IMAGENET_STD)]
    train = T.Compose([T.Resize((resize, resize)), T.RandomCrop(size, padding=padding), T.RandomHorizontalFlip(),
                       *norm])
    evaluate = T.Compose([T.Resize((resize, resize)), T.CenterCrop(size), *norm])
    return train, evaluate


def load_trained_classifier(train_folder):
    """(model in eval mode, its input size) from a finished train stage folder (safetensors only)."""
    import json
    from pathlib import Path

    from safetensors.torch import load_file
    folder = Path(train_folder)
    if not (folder / "last.safetensors").is_file() or not (folder / "result.json").is_file():
        raise FileNotFoundError(f"{folder} is not a finished train stage folder (last.safetensors, result.json)")
    result = json.loads((folder / "result.json").read_text())
    weights = load_file(str(check_safetensors(folder / "last.safetensors", rebuild_hint(folder, "train"))))
    num_classes = next(v.shape[0] for k, v in weights.items() if k.endswith(("fc.weight", "head.weight",
                                                                             "classifier.weight")))
    model = create_classifier(result["backbone"], num_classes, False, result.get("model_kwargs"),
                              result.get("weights"))
    model.load_state_dict(weights)
    return model.eval(), result.get("image_size", 224)
