"""2D U-Nets of the SegTHOR paper [Lambert2020]: the plain U-Net baseline, sU-Net and its SE / context-aggregation
variant (docs/references.md).

sU-Net ([Lambert2020], section 3.2, Fig. 2): seven convolutional blocks (three encoder blocks, a bottom block, three
decoder blocks), each of two 3x3 convolutions followed by ReLU, then batch norm, then dropout (p = 0.2);
2x2 max pooling down; bilinear upsampling up; three skip connections (concatenation); a final 1x1 conv to
the class logits. The configuration that reproduces the paper's parameter counts exactly is

    feature maps per block   64, 128, 256, 256 (bottom) | decoder 256, 128, 64     ("up to 256")
    bilinear upsampling      4,836,997 parameters for 1 input channel, 5 classes   (paper: 4.8 M)
    transposed upsampling    7,196,933 parameters                                  (paper: 7.2 M)

where the transposed variant replaces each bilinear upsampling by a learnt 4x4 transposed convolution of
stride 2 that keeps the channel count (2x2 kernels would give 5.4 M, 3x3 6.2 M: only 4x4 matches).

The plain U-Net baseline is the same family one level deeper and twice as wide at the bottom (feature maps
64-128-256-512-1024, Ronneberger et al.), with learnt (transposed) upsampling and no dropout by default,
which is what [Lambert2020] compares sU-Net against (53.7 M parameters here; the paper quotes ~65 M for its
VGG-backbone U-Net whose exact layout it does not give).

`sunet_se_ca` follows [Liu2020]: in each block the second 3x3 conv is replaced by a context aggregation block
(parallel 3x3, 5x5, dilation-2 and dilation-3 convs, concatenated) followed by squeeze-and-excitation.

All of them map (N, in_channels, H, W) to logits (N, num_classes, H, W) for any H, W: the input is padded
(replicate) to a multiple of the net's stride and the logits are cropped back.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from segthor.networks.blocks import (
    ContextAggregation2d,
    ConvReluBn2d,
    SqueezeExcitation2d,
    crop_to,
    init_weights,
    pad_to_multiple,
)

UPSAMPLING_CHOICES = ("bilinear", "transposed")


class _PlainBlock(nn.Sequential):
    """Two 3x3 convs, each ReLU -> BN -> dropout ([Lambert2020])."""

    def __init__(self, in_channels: int, out_channels: int, dropout: float, batch_norm: bool):
        super().__init__(
            ConvReluBn2d(in_channels, out_channels, dropout, batch_norm),
            ConvReluBn2d(out_channels, out_channels, dropout, batch_norm),
        )


class _SeCaBlock(nn.Sequential):
    """A 3x3 conv, then context aggregation + squeeze-excitation ([Liu2020]), then dropout."""

    def __init__(self, in_channels: int, out_channels: int, dropout: float, batch_norm: bool, se_reduction: int = 8):
        layers: list[nn.Module] = [
            ConvReluBn2d(in_channels, out_channels, dropout, batch_norm),
            ContextAggregation2d(out_channels, out_channels),
            SqueezeExcitation2d(out_channels, se_reduction),
        ]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        super().__init__(*layers)


class UNet2d(nn.Module):
    """Encoder-decoder with concatenating skips; see the module docstring for the seed configurations.

    `features` lists the feature maps of the encoder blocks, the last being the bottom block; the decoder
    mirrors them. With L entries there are L-1 poolings, so the net's stride is 2**(L-1).
    """

    spatial_dims = 2
    channels_last_inference = True  # wide 3x3 convs: channels_last is ~1.5x faster on CPU

    def __init__(
        self,
        in_channels: int = 1,
        num_classes: int = 5,
        features: tuple[int, ...] | list[int] = (64, 128, 256, 256),
        upsampling: str = "bilinear",
        dropout: float = 0.2,
        batch_norm: bool = True,
        block: str = "plain",
        architecture: str = "sunet",
    ):
        super().__init__()
        if upsampling not in UPSAMPLING_CHOICES:
            raise ValueError(f"upsampling must be one of {UPSAMPLING_CHOICES}, got {upsampling!r}")
        if block not in ("plain", "se_ca"):
            raise ValueError(f"block must be 'plain' or 'se_ca', got {block!r}")
        features = tuple(int(f) for f in features)
        if len(features) < 2:
            raise ValueError("features needs at least two levels (one pooling)")
        self.architecture = architecture
        self.arguments: dict[str, Any] = {
            "in_channels": in_channels,
            "num_classes": num_classes,
            "features": list(features),
            "upsampling": upsampling,
            "dropout": dropout,
            "batch_norm": batch_norm,
        }
        self.stride = 2 ** (len(features) - 1)
        self.upsampling = upsampling
        make = _PlainBlock if block == "plain" else _SeCaBlock

        self.encoders = nn.ModuleList()
        previous = in_channels
        for f in features:
            self.encoders.append(make(previous, f, dropout, batch_norm))
            previous = f
        self.ups = nn.ModuleList()
        self.decoders = nn.ModuleList()
        for skip in reversed(features[:-1]):
            # A learnt 4x4/stride-2 transposed conv keeping the channels reproduces [Lambert2020]'s 7.2 M count.
            self.ups.append(
                nn.ConvTranspose2d(previous, previous, 4, stride=2, padding=1)
                if upsampling == "transposed"
                else nn.Identity()
            )
            self.decoders.append(make(previous + skip, skip, dropout, batch_norm))
            previous = skip
        self.head = nn.Conv2d(previous, num_classes, 1)
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x, sizes = pad_to_multiple(x, (self.stride, self.stride))
        skips: list[torch.Tensor] = []
        for i, encoder in enumerate(self.encoders):
            if i:
                x = F.max_pool2d(x, 2)
            x = encoder(x)
            skips.append(x)
        skips.pop()  # the bottom block's output is x itself
        for up, decoder in zip(self.ups, self.decoders, strict=True):
            skip = skips.pop()
            if self.upsampling == "bilinear":
                x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            else:
                x = up(x)
            x = decoder(torch.cat([skip, x], dim=1))
        return crop_to(self.head(x), sizes)


def build_sunet(
    in_channels: int = 1,
    num_classes: int = 5,
    upsampling: str = "bilinear",
    dropout: float = 0.2,
    features: tuple[int, ...] | list[int] = (64, 128, 256, 256),
    batch_norm: bool = True,
) -> UNet2d:
    """sU-Net of [Lambert2020] (4.8 M parameters bilinear, 7.2 M transposed)."""
    return UNet2d(in_channels, num_classes, features, upsampling, dropout, batch_norm, "plain", "sunet")


def build_unet(
    in_channels: int = 1,
    num_classes: int = 5,
    upsampling: str = "transposed",
    dropout: float = 0.0,
    features: tuple[int, ...] | list[int] = (64, 128, 256, 512, 1024),
    batch_norm: bool = True,
) -> UNet2d:
    """The plain U-Net baseline of [Lambert2020] (five levels up to 1024 feature maps, learnt upsampling)."""
    return UNet2d(in_channels, num_classes, features, upsampling, dropout, batch_norm, "plain", "unet")


def build_sunet_se_ca(
    in_channels: int = 1,
    num_classes: int = 5,
    upsampling: str = "bilinear",
    dropout: float = 0.2,
    features: tuple[int, ...] | list[int] = (64, 128, 256, 256),
    batch_norm: bool = True,
) -> UNet2d:
    """sU-Net with [Liu2020]'s context aggregation and squeeze-excitation in every block."""
    return UNet2d(in_channels, num_classes, features, upsampling, dropout, batch_norm, "se_ca", "sunet_se_ca")
