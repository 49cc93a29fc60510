"""Building blocks shared by the networks: initialisation, size padding, conv blocks, SE and context aggregation."""

from __future__ import annotations

from itertools import pairwise

import torch
import torch.nn.functional as F
from torch import nn


def init_weights(module: nn.Module) -> nn.Module:
    """Xavier-uniform initialisation of every conv / linear weight (zero biases), unit batch norms.

    The seeds ([Lambert2020], [Liu2020]) initialise with Xavier; every network constructor applies this, so the
    trainer needs no extra call (calling it again simply re-initialises).
    """
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.Conv3d, nn.ConvTranspose2d, nn.ConvTranspose3d, nn.Linear)):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.BatchNorm3d, nn.InstanceNorm3d)) and m.weight is not None:
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
    return module


def count_parameters(module: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def pad_to_multiple(x: torch.Tensor, multiples: tuple[int, ...]) -> tuple[torch.Tensor, tuple[int, ...]]:
    """Pad the trailing spatial dims of `x` at their far end up to multiples; return the original sizes.

    Replicate padding keeps the padded border looking like the image edge (zero would be mean intensity
    after z-scoring, a fake bright rim for CT whose border is air).
    """
    sizes = tuple(x.shape[-len(multiples) :])
    pads: list[int] = []
    for size, multiple in zip(reversed(sizes), reversed(multiples), strict=True):
        pads += [0, (-size) % multiple]
    if any(pads):
        x = F.pad(x, pads, mode="replicate")
    return x, sizes


def crop_to(x: torch.Tensor, sizes: tuple[int, ...]) -> torch.Tensor:
    """Undo `pad_to_multiple`: keep the first `sizes` elements of the trailing dims."""
    index = (Ellipsis, *(slice(0, s) for s in sizes))
    return x[index]


class ConvReluBn2d(nn.Sequential):
    """3x3 conv -> ReLU -> batch norm -> dropout: the sU-Net layer order ([Lambert2020]: ReLU, then BN, dropout)."""

    def __init__(self, in_channels: int, out_channels: int, dropout: float = 0.0, batch_norm: bool = True):
        layers: list[nn.Module] = [
            nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=True),
            nn.ReLU(inplace=True),
        ]
        if batch_norm:
            layers.append(nn.BatchNorm2d(out_channels))
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        super().__init__(*layers)


class SqueezeExcitation2d(nn.Module):
    """Squeeze-and-excitation ([Liu2020] Fig. 3): global average pool, two FC layers, sigmoid channel weights."""

    def __init__(self, channels: int, reduction: int = 8):
        super().__init__()
        hidden = max(channels // reduction, 4)
        # 1x1 convs are the FC layers on the pooled vector; they keep the tensor 4D (channels_last friendly).
        self.fc1 = nn.Conv2d(channels, hidden, 1)
        self.fc2 = nn.Conv2d(hidden, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = F.adaptive_avg_pool2d(x, 1)
        w = torch.sigmoid(self.fc2(F.relu(self.fc1(w), inplace=True)))
        return x * w


class ContextAggregation2d(nn.Module):
    """Context aggregation block ([Liu2020] Fig. 2): parallel plain and dilated convs, concatenated.

    Four branches of out_channels/4 each: 3x3, a larger 5x5 kernel, 3x3 dilation 2 and 3x3 dilation 3
    ([Liu2020] combines dilation rates 2 and 3 with plain convs of larger kernels to avoid gridding), each
    conv -> BN -> ReLU as in [Liu2020]. The concatenation is the block's output.
    """

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        if out_channels % 4:
            raise ValueError(f"context aggregation needs out_channels divisible by 4, got {out_channels}")
        b = out_channels // 4
        specs = ((3, 1), (5, 1), (3, 2), (3, 3))  # (kernel, dilation)
        self.branches = nn.ModuleList(
            nn.Sequential(
                nn.Conv2d(in_channels, b, k, padding=d * (k // 2), dilation=d, bias=False),
                nn.BatchNorm2d(b),
                nn.ReLU(inplace=True),
            )
            for k, d in specs
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([branch(x) for branch in self.branches], dim=1)


class ResBlock3d(nn.Module):
    """3D residual block (He et al.) used by the coarse-to-fine encoder and fine decoders.

    Two 3x3x3 convs (BN, ReLU) on the main path; a 1x1x1 projection on the shortcut when the stride or
    channel count changes (the "two or three convolutions" of [Zhang2019]). `dilation` enlarges the receptive
    field without changing the output size.
    """

    def __init__(self, in_channels: int, out_channels: int, stride=1, dilation: int = 1):
        super().__init__()
        self.conv1 = nn.Conv3d(
            in_channels, out_channels, 3, stride=stride, padding=dilation, dilation=dilation, bias=False
        )
        self.bn1 = nn.BatchNorm3d(out_channels)
        self.conv2 = nn.Conv3d(out_channels, out_channels, 3, padding=dilation, dilation=dilation, bias=False)
        self.bn2 = nn.BatchNorm3d(out_channels)
        needs_projection = in_channels != out_channels or stride not in (1, (1, 1, 1))
        self.shortcut = (
            nn.Sequential(
                nn.Conv3d(in_channels, out_channels, 1, stride=stride, bias=False), nn.BatchNorm3d(out_channels)
            )
            if needs_projection
            else nn.Identity()
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.bn1(self.conv1(x)), inplace=True)
        y = self.bn2(self.conv2(y))
        return F.relu(y + self.shortcut(x), inplace=True)


def fuse_batch_norms(model: nn.Module) -> nn.Module:
    """Fold every batch norm that directly follows a conv (inside an nn.Sequential) into that conv.

    For inference only (the model must be in eval mode): the outputs stay the same up to rounding while
    one memory-bound pass per conv disappears (docs/benchmarks.md says what it buys). Works in place;
    returns `model`.
    Convs followed by ReLU first (sU-Net's order) are left as they are: there the BN cannot be folded.
    """
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    if model.training:
        raise ValueError("fuse_batch_norms is for inference: call model.eval() first")
    convs = (nn.Conv2d, nn.Conv3d, nn.ConvTranspose2d, nn.ConvTranspose3d)
    norms = (nn.BatchNorm2d, nn.BatchNorm3d)
    for seq in [m for m in model.modules() if isinstance(m, nn.Sequential)]:
        names = list(seq._modules)
        for first, second in pairwise(names):
            conv, norm = seq._modules[first], seq._modules[second]
            if isinstance(conv, convs) and isinstance(norm, norms) and norm.track_running_stats:
                transpose = isinstance(conv, (nn.ConvTranspose2d, nn.ConvTranspose3d))
                seq._modules[first] = fuse_conv_bn_eval(conv, norm, transpose=transpose)
                seq._modules[second] = nn.Identity()
    return model


def optimize_for_inference(model: nn.Module) -> nn.Module:
    """Eval mode, batch norms folded into convs, and channels_last weights where that layout pays.

    Nets declare `channels_last_inference` (the wide U-Nets: ~1.5x faster on CPU; ENet: no gain, its
    time is in element-wise ops; see docs/benchmarks.md). Inputs may stay NCHW: convs follow the
    weights' layout, and the logits then come back channels_last (argmax and .contiguous() handle it).
    In place; returns `model`.
    """
    model.eval()
    fuse_batch_norms(model)
    if getattr(model, "channels_last_inference", False):
        model.to(memory_format=torch.channels_last)
    return model
