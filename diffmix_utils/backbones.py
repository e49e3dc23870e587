"""Classifier backbones by name, below both the validator and the model code: checks of the classifier
keys before any work, ``train.backbone`` (a timm name, ``name.tag`` with
timm weights, or ``torchvision:<name>``), ``train.weights`` (a torchvision weight enum) and
``train.model_kwargs`` (arguments the backbone accepts, tried on the meta device: no weights, no
memory). Each returns why the keys cannot build a classifier, or None; the validator raises it.
"""
from __future__ import annotations

import functools
import json


TORCHVISION = "torchvision:"


def backbone_problem(name: str, kwargs: dict, weights: str | None = None) -> str | None:
    """Why ``train.backbone`` / ``train.weights`` / ``train.model_kwargs`` cannot build a classifier, or None."""
    problem = _torchvision_problem(name.split(":", 1)[1], weights) if name.startswith(TORCHVISION) \
        else _timm_problem(name, weights)
    return problem or (_model_kwargs_problem(name, kwargs, weights) if kwargs else None)


def _timm_problem(name: str, weights: str | None) -> str | None:
    import timm  # third-party only; imported lazily because it pulls in torch
    arch, _, tag = name.partition(".")
    if not timm.is_model(arch):
        close = timm.list_models(f"*{arch.split('_')[0]}*")[:8]
        return (f"train.backbone = {name!r} is not a timm model; for example: "
                f"{', '.join(close) or 'resnet18, resnet50, vit_base_patch16_384'}")
    if tag and name not in timm.list_pretrained(name):
        tags = timm.list_pretrained(f"{arch}.*")[:10]
        return (f"train.backbone = {name!r}: timm has no weights tagged {tag!r} for {arch}; "
                f"valid: {', '.join(tags) or 'none (drop the tag)'}")
    from .bundled import BUNDLED, BUNDLED_CLASSIFIERS, bundled_config, bundled_folder
    if weights is not None and weights.startswith(BUNDLED):
        if weights[len(BUNDLED):] not in BUNDLED_CLASSIFIERS:
            return (f"train.weights = {weights!r} is not a bundled classifier; valid: "
                    f"{', '.join(BUNDLED + n for n in BUNDLED_CLASSIFIERS)}")
        try:
            built = bundled_config(weights)["architecture"]
        except (OSError, ValueError, KeyError) as exc:
            return (f"train.weights = {weights!r}: its folder cannot be read ({type(exc).__name__}); rebuild it "
                    f"with python -m diffmix_utils.models.pretrain_classifier {bundled_folder(weights)}")
        if name != built:
            return f"train.weights = {weights!r} holds {built} weights; set train.backbone: {built}"
        return None
    if weights is not None:
        return (f"train.weights = {weights!r} applies to torchvision:<name> backbones and to bundled:<name> "
                f"classifiers (e.g. bundled:toy-regnet); for timm choose the weights with a tag, e.g. "
                f"{arch}.tv_in1k")
    return None


def _torchvision_problem(arch: str, weights: str | None) -> str | None:
    from torchvision.models import get_model_weights, list_models
    if arch not in list_models():
        close = [m for m in list_models() if m.split("_")[0] == arch.split("_")[0]][:8]
        return (f"train.backbone = 'torchvision:{arch}' is not a torchvision model; for example: "
                f"{', '.join(close) or 'resnet50, vit_b_16'}")
    try:
        valid = list(get_model_weights(arch).__members__)
    except (ValueError, KeyError):
        valid = []
    if weights is not None and weights not in valid:
        return (f"train.weights = {weights!r} is not a weight set of torchvision's {arch}; "
                f"valid: {', '.join(valid) or 'none'}")
    return None


def _model_kwargs_problem(name: str, kwargs: dict, weights: str | None) -> str | None:
    bad = [k for k in kwargs if not isinstance(k, str) or not k.isidentifier()]
    if bad:
        return f"train.model_kwargs key {bad[0]!r} is not valid; keys are the backbone's argument names"
    try:
        text = json.dumps(kwargs, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError):
        return (f"train.model_kwargs = {kwargs!r} is not valid; values must be finite numbers, strings, "
                "booleans or lists of them")
    problem = _build_problem(name, text, weights)
    return f"train.model_kwargs = {kwargs!r} is not accepted by the backbone {name!r}: {problem}" if problem else None


@functools.lru_cache(maxsize=64)
def _build_problem(name: str, kwargs_json: str, weights: str | None) -> str | None:
    import torch
    try:
        with torch.device("meta"):  # builds the architecture only: no weights, no memory
            architecture(name, 2, json.loads(kwargs_json), weights)
    except Exception as exc:  # timm / torchvision raise TypeError, ValueError, AssertionError, ... for a bad argument
        return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else 'no message'}"
    return None


def torchvision_arch_kwargs(name: str, weights: str | None) -> dict:
    """Architecture arguments a torchvision weight set implies: SWAG ViTs are built for 384 px."""
    if not weights or not name.startswith("vit_"):
        return {}
    from torchvision.models import get_model_weights
    size = get_model_weights(name)[weights].meta.get("min_size")
    return {"image_size": size[0]} if size else {}


def architecture(backbone: str, num_classes: int, kwargs: dict | None = None, weights: str | None = None,
                 pretrained: bool = False):
    """The backbone with ``num_classes`` outputs: timm's ``create_model`` or, for ``torchvision:<name>``,
    torchvision's ``get_model`` (built for the input size its ``weights`` imply; with ``pretrained``, the
    ``weights`` enum loaded and a new head). Pretrained weights come from the local caches only."""
    if backbone.startswith(TORCHVISION):
        from torchvision.models import get_model
        name = backbone[len(TORCHVISION):]
        kw = {**torchvision_arch_kwargs(name, weights), **(kwargs or {})}
        if not pretrained:
            return get_model(name, weights=None, num_classes=num_classes, **kw)
        return _replace_head(get_model(name, weights=weights or "DEFAULT", **kw), num_classes)
    import timm
    if not timm.is_model(backbone.split(".")[0]):
        raise ValueError(f"train.backbone = {backbone!r} is not a timm model; e.g. resnet50, "
                         "vit_base_patch16_384 (timm.list_models() lists them)")
    return timm.create_model(backbone, pretrained=pretrained, num_classes=num_classes, **(kwargs or {}))


def _replace_head(model, num_classes: int):
    """A new final layer with ``num_classes`` outputs (torchvision's ResNet ``fc``, ViT ``heads.head``, ...)."""
    import torch
    for path in ("fc", "heads.head", "head", "classifier"):
        parent, _, attr = path.rpartition(".")
        owner = model.get_submodule(parent) if parent else model
        layer = getattr(owner, attr, None)
        if isinstance(layer, torch.nn.Sequential):
            owner, attr, layer = layer, str(len(layer) - 1), layer[-1]
        if isinstance(layer, torch.nn.Linear):
            setattr(owner, attr, torch.nn.Linear(layer.in_features, num_classes))
            return model
    raise ValueError(f"cannot find the final linear layer of {type(model).__name__} to replace")
