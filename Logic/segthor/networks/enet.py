"""ENet (Paszke et al. 2016, arXiv:1606.02147) as used on SegTHOR by [deReus].

Layout with base width K ([deReus] sweeps this "kernel size" over 16-64 and finds 32 best; Paszke's ENet is
K = 16, 0.36 M parameters here for 1 input channel and 5 classes):

    initial     3x3/2 conv (K - in_channels maps) concatenated with a 2x2 max pool of the input -> K, H/2
    stage 1     downsampling bottleneck -> 4K, H/4; 4 regular bottlenecks (spatial dropout 0.01)
    stage 2     downsampling bottleneck -> 8K, H/8; regular, dilated 2, asymmetric 5, dilated 4, regular,
                dilated 8, asymmetric 5, dilated 16 (spatial dropout 0.1)
    stage 3     stage 2 again without the downsampling
    stage 4     upsampling bottleneck (max-unpooling with stage 2's indices) -> 4K, H/4; 2 regular
    stage 5     upsampling bottleneck (stage 1's indices) -> K, H/2; 1 regular
    fullconv    2x2/2 transposed conv -> num_classes, H

Each bottleneck is a residual block: 1x1 projection to a quarter of the channels (2x2/2 when downsampling),
the main conv (3x3, dilated 3x3, asymmetric 5x1 + 1x5, or 3x3/2 transposed), 1x1 expansion, batch norm and
PReLU after each, spatial dropout, then PReLU(main + shortcut). The net's stride is 8; any H, W is padded to a
multiple of 8 (replicate) and cropped back.

`slice_offsets_mm` makes it a 2.5D net: its input channels are the CT at those offsets along z from the slice it
labels (`segthor.preprocessing.slice_context`; e.g. [-8, -4, 0, 4, 8]), and the initial block max-pools only the
centre channel, so its layout from the first batch norm on is the 1-channel net's and a 1-channel package can
start it (the extra channels' weights start at zero).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from segthor.networks.blocks import crop_to, init_weights, pad_to_multiple
from segthor.preprocessing.slice_context import CENTRE_ONLY, check_offsets


class InitialBlock(nn.Module):
    """3x3/2 conv concatenated with a 2x2 max pool of the input channels `pooled` (all when None)."""

    def __init__(self, in_channels: int, out_channels: int, pooled: slice | None = None):
        super().__init__()
        self.pooled = pooled or slice(0, in_channels)
        n_pooled = len(range(in_channels)[self.pooled])
        if out_channels <= n_pooled:
            raise ValueError(f"ENet base width {out_channels} must exceed the {n_pooled} pooled input channels")
        self.conv = nn.Conv2d(in_channels, out_channels - n_pooled, 3, stride=2, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(out_channels)
        self.act = nn.PReLU(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn(torch.cat([self.conv(x), F.max_pool2d(x[:, self.pooled], 2)], dim=1)))


def _conv_bn_prelu(conv: nn.Module, channels: int) -> list[nn.Module]:
    return [conv, nn.BatchNorm2d(channels), nn.PReLU(channels)]


class Bottleneck(nn.Module):
    """Regular, dilated or asymmetric bottleneck (channels in == out)."""

    def __init__(self, channels: int, dilation: int = 1, asymmetric: bool = False, dropout: float = 0.1):
        super().__init__()
        inner = channels // 4
        if asymmetric:
            main = [
                nn.Conv2d(inner, inner, (5, 1), padding=(2, 0), bias=False),
                nn.Conv2d(inner, inner, (1, 5), padding=(0, 2), bias=False),
            ]
        else:
            main = [nn.Conv2d(inner, inner, 3, padding=dilation, dilation=dilation, bias=False)]
        self.branch = nn.Sequential(
            *_conv_bn_prelu(nn.Conv2d(channels, inner, 1, bias=False), inner),
            *main,
            nn.BatchNorm2d(inner),
            nn.PReLU(inner),
            nn.Conv2d(inner, channels, 1, bias=False),
            nn.BatchNorm2d(channels),
            nn.Dropout2d(dropout),
        )
        self.act = nn.PReLU(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(x + self.branch(x))


class DownsamplingBottleneck(nn.Module):
    """Halves H, W; the shortcut is a max pool (its indices feed the decoder) zero-padded to out channels."""

    def __init__(self, in_channels: int, out_channels: int, dropout: float):
        super().__init__()
        inner = in_channels // 4
        self.extra_channels = out_channels - in_channels
        self.branch = nn.Sequential(
            *_conv_bn_prelu(nn.Conv2d(in_channels, inner, 2, stride=2, bias=False), inner),
            *_conv_bn_prelu(nn.Conv2d(inner, inner, 3, padding=1, bias=False), inner),
            nn.Conv2d(inner, out_channels, 1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.Dropout2d(dropout),
        )
        self.act = nn.PReLU(out_channels)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        main, indices = F.max_pool2d(x, 2, return_indices=True)
        main = F.pad(main, (0, 0, 0, 0, 0, self.extra_channels))  # zero channels, no Python loop
        return self.act(main + self.branch(x)), indices


class UpsamplingBottleneck(nn.Module):
    """Doubles H, W; the shortcut is a 1x1 conv + max-unpooling with the encoder's indices."""

    def __init__(self, in_channels: int, out_channels: int, dropout: float):
        super().__init__()
        inner = in_channels // 4
        self.shortcut = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, bias=False), nn.BatchNorm2d(out_channels))
        self.branch = nn.Sequential(
            *_conv_bn_prelu(nn.Conv2d(in_channels, inner, 1, bias=False), inner),
            *_conv_bn_prelu(
                nn.ConvTranspose2d(inner, inner, 3, stride=2, padding=1, output_padding=1, bias=False), inner
            ),
            nn.Conv2d(inner, out_channels, 1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.Dropout2d(dropout),
        )
        self.act = nn.PReLU(out_channels)

    def forward(self, x: torch.Tensor, indices: torch.Tensor) -> torch.Tensor:
        main = max_unpool2x2(self.shortcut(x), indices)
        return self.act(main + self.branch(x))


def max_unpool2x2(x: torch.Tensor, indices: torch.Tensor) -> torch.Tensor:
    """`F.max_unpool2d(x, indices, 2)`: (N, C, H, W) -> (N, C, 2H, 2W), the same ATen kernel called directly.

    torch's Python wrapper checks the output size with `torch._check_value`, whose first call imports torch's
    symbolic-shapes machinery and sympy: 0.4-0.8 s of every `segthor segment` on a CPU, for a size known here.
    """
    kernel = getattr(getattr(torch._C, "_nn", None), "max_unpool2d", None)
    if kernel is None:  # a torch without the private binding (Slicer users may install another version)
        return F.max_unpool2d(x, indices, 2)
    return kernel(x, indices, [2 * x.shape[-2], 2 * x.shape[-1]])


def _stage23(channels: int, dropout: float) -> list[nn.Module]:
    return [
        Bottleneck(channels, dropout=dropout),
        Bottleneck(channels, dilation=2, dropout=dropout),
        Bottleneck(channels, asymmetric=True, dropout=dropout),
        Bottleneck(channels, dilation=4, dropout=dropout),
        Bottleneck(channels, dropout=dropout),
        Bottleneck(channels, dilation=8, dropout=dropout),
        Bottleneck(channels, asymmetric=True, dropout=dropout),
        Bottleneck(channels, dilation=16, dropout=dropout),
    ]


class ENet(nn.Module):
    """ENet with configurable base width; see the module docstring."""

    spatial_dims = 2
    architecture = "enet"
    stride = 8
    channels_last_inference = False  # thin tensors, element-wise bound: NCHW is as fast or faster
    slice_offsets_mm: tuple[float, ...] = CENTRE_ONLY  # the input channels' z offsets (mm); see the module docstring

    def __init__(
        self,
        in_channels: int = 1,
        num_classes: int = 5,
        base_width: int = 16,
        dropout: float = 0.1,
        encoder_dropout: float = 0.01,
        slice_offsets_mm: list[float] | None = None,
    ):
        super().__init__()
        if base_width % 4 or base_width < 8:
            raise ValueError(f"ENet base_width must be a multiple of 4 and at least 8, got {base_width}")
        self.arguments: dict[str, Any] = {
            "in_channels": in_channels,
            "num_classes": num_classes,
            "base_width": base_width,
            "dropout": dropout,
            "encoder_dropout": encoder_dropout,
        }
        pooled = None
        if slice_offsets_mm is not None:
            self.slice_offsets_mm = check_offsets(slice_offsets_mm)
            if in_channels not in (1, len(self.slice_offsets_mm)):
                raise ValueError(
                    f"ENet in_channels {in_channels} does not match the {len(self.slice_offsets_mm)} slice_offsets_mm"
                )
            in_channels = len(self.slice_offsets_mm)
            centre = self.slice_offsets_mm.index(0.0)
            pooled = slice(centre, centre + 1)
            self.arguments.update(in_channels=in_channels, slice_offsets_mm=list(self.slice_offsets_mm))
        K = base_width
        self.initial = InitialBlock(in_channels, K, pooled)
        self.down1 = DownsamplingBottleneck(K, 4 * K, encoder_dropout)
        self.stage1 = nn.Sequential(*(Bottleneck(4 * K, dropout=encoder_dropout) for _ in range(4)))
        self.down2 = DownsamplingBottleneck(4 * K, 8 * K, dropout)
        self.stage23 = nn.Sequential(*_stage23(8 * K, dropout), *_stage23(8 * K, dropout))
        self.up4 = UpsamplingBottleneck(8 * K, 4 * K, dropout)
        self.stage4 = nn.Sequential(Bottleneck(4 * K, dropout=dropout), Bottleneck(4 * K, dropout=dropout))
        self.up5 = UpsamplingBottleneck(4 * K, K, dropout)
        self.stage5 = Bottleneck(K, dropout=dropout)
        self.fullconv = nn.ConvTranspose2d(K, num_classes, 2, stride=2)
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x, sizes = pad_to_multiple(x, (self.stride, self.stride))
        x = self.initial(x)
        x, indices1 = self.down1(x)
        x = self.stage1(x)
        x, indices2 = self.down2(x)
        x = self.stage23(x)
        x = self.stage4(self.up4(x, indices2))
        x = self.stage5(self.up5(x, indices1))
        return crop_to(self.fullconv(x), sizes)
