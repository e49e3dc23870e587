"""Classifiers by timm name, and the reference's train / eval image transforms.

``resnet50`` @448 (resize 512), ``vit_base_patch16_384`` @384 and ``resnet50`` @224 (resize 256)
are the paper's settings; the offline demo uses a small one (``resnet18`` at 64 px).
"""
from __future__ import annotations

import timm
from torchvision import transforms as T

IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def create_classifier(backbone: str, num_classes: int, pretrained: bool, kwargs: dict | None = None):
    """``timm.create_model`` (``kwargs``: its extra arguments, e.g. ``img_size``, ``drop_path_rate``);
    with ``pretrained`` the weights must already be in the local cache."""
    if not timm.is_model(backbone.split(".")[0]):
        raise ValueError(f"train.backbone = {backbone!r} is not a timm model; e.g. resnet50, "
                         "vit_base_patch16_384 (timm.list_models() lists them)")
    try:
        return timm.create_model(backbone, pretrained=pretrained, num_classes=num_classes, **(kwargs or {}))
    except Exception as exc:  # timm raises several types when hub weights are missing offline
        if not pretrained:
            raise
        raise OSError(f"train.pretrained = true but the weights of {backbone!r} are not in the local "
                      f"cache and cannot be downloaded here ({exc}); set train.pretrained: false or "
                      "copy the Hugging Face cache of the model onto this machine") from None


def classifier_transforms(size: int) -> tuple:
    """(train, eval): resize to size*8/7 (256 for 224), random resp. centre crop, flip, normalise."""
    resize = round(size * 8 / 7)
    norm = [T.ToTensor(), T.Normalize(IMAGENET_MEAN, IMAGENET_STD)]
    train = T.Compose([T.Resize((resize, resize)), T.RandomCrop(size), T.RandomHorizontalFlip(), *norm])
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
    weights = load_file(str(folder / "last.safetensors"))
    num_classes = next(v.shape[0] for k, v in weights.items() if k.endswith(("fc.weight", "head.weight",
                                                                             "classifier.weight")))
    model = create_classifier(result["backbone"], num_classes, False, result.get("model_kwargs"))
    model.load_state_dict(weights)
    return model.eval(), result.get("image_size", 224)
