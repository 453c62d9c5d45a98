"""Torchvision backbones for real photos: VGG-16 and ResNet-50 / ResNet-152.

Built with torchvision's model builders and ``weights=None``; weights then come
from ``weights.py`` (ImageNet from the local hub cache, or a ``.safetensors``
file holding the torchvision model's state dict, keys as in
``torchvision.models.resnet50().state_dict()``). The part of the network after the
chosen layer is dropped, so it costs neither memory nor time:

=========  ======  =============================================  ==================
encoder    layer   what                                           at 224 px
=========  ======  =============================================  ==================
vgg16      fc7     classifier up to the second ReLU (the VQA       (B, 4096)
                   paper's image feature)
vgg16      grid    conv5_3 after its ReLU, before the last pool    (B, 512, 14, 14)
                   (the Show, Attend and Tell grid)
resnet*    grid    layer4 output                                   (B, 2048, 7, 7)
resnet*    pooled  layer4 averaged over positions                  (B, 2048)
=========  ======  =============================================  ==================

Inputs are normalised with the ImageNet mean and standard deviation the weights
were trained with. torchvision is imported on first use: it adds seconds to
start-up, and the Shapes models never need it.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import torch
from torch import Tensor, nn

from vqadesk.models.image_encoder_base import ImageEncoder, ImageEncoderConfig
from vqadesk.models.weights import load_weights, read_imagenet_state_dict, read_state_dict

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
VGG_FC7_DIM = 4096
VGG_GRID_CHANNELS = 512
RESNET_CHANNELS = 2048
# The ImageNet head each torchvision network ends with; vqadesk never uses it.
_UNUSED_HEADS = {"vgg16": ("classifier.6.",), "resnet50": ("fc.",), "resnet152": ("fc.",)}


def _builder_and_weights(name: str) -> tuple[Any, Any]:
    import torchvision.models as tv  # deferred: seconds of import, only for photo backbones

    return {
        "vgg16": (tv.vgg16, tv.VGG16_Weights),
        "resnet50": (tv.resnet50, tv.ResNet50_Weights),
        "resnet152": (tv.resnet152, tv.ResNet152_Weights),
    }[name]


class TorchvisionEncoder(ImageEncoder):
    """A torchvision backbone cut at ``config.layer``; see the module docstring."""

    def __init__(self, config: ImageEncoderConfig):
        super().__init__(config, mean=IMAGENET_MEAN, std=IMAGENET_STD)
        build, weights_enum = _builder_and_weights(config.name)
        network = build(weights=None)
        if config.weights == "imagenet":
            state, source = read_imagenet_state_dict(config.name, weights_enum)
            load_weights(network, state, source=source, unused_prefixes=_UNUSED_HEADS[config.name])
        elif config.weights != "none":
            state = read_state_dict(config.weights)
            load_weights(network, state, source=config.weights, unused_prefixes=_UNUSED_HEADS[config.name])
        if config.name == "vgg16":
            self.backbone = _vgg16_up_to(network, config.layer)
        else:
            self.backbone = _resnet_up_to(network, config.layer)
        self.freeze_if_not_trainable()
        if not config.trainable:
            self.backbone.to(memory_format=torch.channels_last)  # see use_channels_last

    @property
    def output_shape(self) -> tuple[int, int | None]:
        layer, size = self.config.layer, self.config.image_size
        if self.config.name == "vgg16":
            if layer == "fc7":
                return (VGG_FC7_DIM, None)
            for _ in range(4):  # four 2x2 max-pools before conv5_3
                size //= 2
            return (VGG_GRID_CHANNELS, size)
        if layer == "pooled":
            return (RESNET_CHANNELS, None)
        for _ in range(5):  # conv1, max-pool, layer2-4: each ceil(size / 2)
            size = (size + 1) // 2
        return (RESNET_CHANNELS, size)

    def forward(self, prepared: Tensor) -> Tensor:
        # Channels-last (NHWC) input: oneDNN's and cuDNN's fast convolutions (docs/performance.md).
        return self.backbone(prepared.contiguous(memory_format=torch.channels_last))  # (B, C, h, w) or (B, D)


def use_channels_last(model: nn.Module) -> None:
    """Store the convolution weights of ``model``'s torchvision backbones channels-last (NHWC).

    For models that are only run (inference, extraction, a frozen encoder): a trainable
    backbone keeps its weights in the default layout, because its optimiser state is
    saved contiguous and fused Adam silently mis-updates a channels-last parameter whose
    state has another layout after ``--resume`` (docs/performance.md). Its input is
    channels-last all the same (``forward``), which takes the fast convolutions too.
    """
    for module in model.modules():
        if isinstance(module, TorchvisionEncoder):
            module.backbone.to(memory_format=torch.channels_last)


def _vgg16_up_to(vgg: nn.Module, layer: str) -> nn.Module:
    if layer == "grid":
        return vgg.features[:-1]  # (B, 512, S/16, S/16): drops the last max-pool
    # classifier = Linear, ReLU, Dropout, Linear, ReLU (= fc7), Dropout, Linear(1000)
    return nn.Sequential(
        OrderedDict(
            features=vgg.features,
            avgpool=vgg.avgpool,  # adaptive: 7 x 7 at any input size
            flatten=nn.Flatten(1),
            fc6_fc7=vgg.classifier[:5],
        )
    )  # (B, 4096)


def _resnet_up_to(resnet: nn.Module, layer: str) -> nn.Module:
    names = ("conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4")
    parts = OrderedDict((name, getattr(resnet, name)) for name in names)  # (B, 2048, S/32, S/32)
    if layer == "pooled":
        parts["avgpool"] = resnet.avgpool
        parts["flatten"] = nn.Flatten(1)  # (B, 2048)
    return nn.Sequential(parts)
