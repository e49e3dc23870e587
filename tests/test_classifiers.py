"""The paper's classifiers exactly: timm ``name.tag`` weights and torchvision models with a weight enum,
validated before any work, trained through the same stage, with the reference's transforms."""
from __future__ import annotations

import pytest
import torch

from diffmix_utils import artifacts, params
from diffmix_utils.models.classifiers import classifier_transforms, create_classifier, load_trained_classifier
from diffmix_utils.train import run_training

from conftest import tiny_params


@pytest.mark.parametrize("train, message", [
    ({"backbone": "resnet50.no_such_tag"}, "timm has no weights tagged 'no_such_tag' for resnet50; valid: "),
    ({"backbone": "torchvision:no_such_net"}, "is not a torchvision model"),
    ({"backbone": "torchvision:vit_b_16", "weights": "IMAGENET1K_SWAG"},
     "valid: IMAGENET1K_V1, IMAGENET1K_SWAG_E2E_V1"),
    ({"backbone": "resnet50", "weights": "IMAGENET1K_V1"}, "applies to torchvision:<name> backbones and to bundled:<name> classifiers"),
])
def test_backbones_and_weights_are_validated(train, message):
    with pytest.raises(params.ParamsError, match=message):
        params.resolve({"train": train})


def test_the_reference_weights_validate():
    params.resolve({"train": {"backbone": "resnet50.tv_in1k"}})
    params.resolve({"train": {"backbone": "torchvision:vit_b_16", "weights": "IMAGENET1K_SWAG_E2E_V1",
                              "image_size": 384}})


def test_a_swag_vit_is_built_for_384_px_and_gets_a_new_head():
    with torch.device("meta"):
        vit = create_classifier("torchvision:vit_b_16", 7, False, None, "IMAGENET1K_SWAG_E2E_V1")
        assert vit.image_size == 384 and vit.heads.head.out_features == 7
        assert tuple(vit(torch.empty(1, 3, 384, 384)).shape) == (1, 7)


def test_the_reference_transforms_at_its_resolutions():
    train, evaluate = classifier_transforms(384)
    assert train.transforms[0].size == (440, 440) and train.transforms[1].padding == 8
    assert evaluate.transforms[0].size == (440, 440) and evaluate.transforms[1].size == (384, 384)
    assert classifier_transforms(64)[0].transforms[1].padding == 0  # elsewhere: unchanged


def test_a_torchvision_backbone_trains_and_reloads(tmp_path):
    p = tiny_params(tmp_path, synthesize={"strategy": "none"}, train={"backbone": "torchvision:resnet18",
                                                                      "epochs": 1, "p": 0.0})
    out = run_training(params.expand_sweep(p)[0])
    assert artifacts.read_json(out / "result.json")["backbone"] == "torchvision:resnet18"
    model, size = load_trained_classifier(out)
    assert model.fc.out_features == 4 and size == 32
