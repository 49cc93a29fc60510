"""The coarse-to-fine 3D network of [Zhang2019]: a shared encoder, a coarse decoder and per-organ fine decoders.

Tensors are (N, C, D, H, W) with D = z (slices), H = y, W = x. Default widths (32, 64, 128, 256):

    encoder   stem      3x3x3 conv + BN + ReLU                         -> F0  32 ch  (D,   H,   W)
              res1      ResBlock, stride (1,2,2)                        -> F1  64 ch  (D,   H/2, W/2)
              res2      ResBlock, stride (2,2,2)                        -> F2 128 ch  (D/2, H/4, W/4)
              res3      ResBlock, stride (1,2,2), dilation 3            ->    256 ch  (D/2, H/8, W/8)
              res4      ResBlock, dilation 6                            -> F3 256 ch  (D/2, H/8, W/8)
    coarse    a 1x1x1 conv + sigmoid on each of res2, res3, res4 (res2's map average-pooled to H/8, W/8);
              the mean of the three maps is F_ave, num_classes channels at (D/2, H/8, W/8)  [X/8, Y/8, Z/2]
    fine      one decoder per organ on the organ's ROI: F3 crop -> 1x1x1 conv + ReLU -> upsample, add the F2
              crop -> ResBlock -> 1x1x1 conv + ReLU -> upsample, add F1 crop -> ResBlock -> ... F0 crop ->
              ResBlock -> 1x1x1 conv -> one logit per voxel (organ vs rest) at full resolution in the ROI.

ROIs are boxes on the coarse grid (so they cut every level exactly), grown by `roi_margin` coarse voxels.
Inputs of any size are padded (replicate) to multiples of (2, 8, 8) and outputs cropped back.

Training -- `forward_train(x, target, roi_from="target", with_fine=True)` returns the tensors of [Zhang2019]'s losses:
    "coarse"                  F_ave, sigmoid probabilities (N, C, D/2, H/8, W/8)
    "coarse_target"           one-hot target average-pooled to the coarse grid (fractions in [0, 1])
    "fine_logits/<organ>"     fine decoder logits (N, 1, d, h, w) on the organ's ROI (full resolution)
    "fine_target/<organ>"     the binary target crop (N, 1, d, h, w), float
    "fine_box/<organ>"        the ROI as int64 (z0, z1, y0, y1, x0, x1) on the padded full-resolution grid
for every organ (key from the organ table) present in the batch. The ROI is the union over the batch of
the target's box ("target", teacher forcing) or of the coarse prediction's box ("coarse", falling back to
the target's box when nothing is predicted). The paper's losses: Dice 1 - 2|F_ave . F_ori| / (|F_ave| +
|F_ori|) on the coarse pair, and Dice with hard-voxel weighting on sigmoid(fine logits) vs fine targets.
Train the encoder + coarse decoder first, then everything together ([Zhang2019]: 40 + 50 epochs).

Inference -- eval-mode `forward(x)` returns class scores (N, C, D, H, W): organ channels hold the coarse
probability upsampled to full resolution, replaced inside each organ's ROI (boxes of F_ave > threshold)
by the fine decoder's sigmoid; channel 0 is 1 - max organ probability, so argmax labels a voxel with the
most probable organ when that probability exceeds 1/2. To bound memory on whole CTs, inference runs the
stem and res1 on z slabs (with halos, so results are exact) and never keeps the full-resolution F0: each
ROI's F0 crop is recomputed from the input.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from segthor.networks.blocks import ResBlock3d, crop_to, init_weights, pad_to_multiple
from segthor.organs import ORGANS

STRIDE = (2, 8, 8)  # (z, y, x) factor between the input and the coarse grid
# Scale of each encoder level relative to the coarse grid, (z, y, x): F3, F2, F1, F0.
LEVEL_SCALES = ((1, 1, 1), (1, 2, 2), (2, 4, 4), (2, 8, 8))

Box = tuple[int, int, int, int, int, int]


def class_key(label: int) -> str:
    """Output key of a class: the organ table's key for SegTHOR labels."""
    return ORGANS[label - 1].key if 1 <= label <= len(ORGANS) else f"class_{label}"


def _box_of(mask: torch.Tensor) -> Box | None:
    """Bounding box (z0, z1, y0, y1, x0, x1) of a boolean (D, H, W) mask, None if empty."""
    if not bool(mask.any()):
        return None
    z = mask.any(dim=2).any(dim=1).nonzero()
    y = mask.any(dim=2).any(dim=0).nonzero()
    x = mask.any(dim=1).any(dim=0).nonzero()
    return (int(z[0]), int(z[-1]) + 1, int(y[0]), int(y[-1]) + 1, int(x[0]), int(x[-1]) + 1)


def _grow(box: Box, margin: int, shape: tuple[int, ...]) -> Box:
    z0, z1, y0, y1, x0, x1 = box
    d, h, w = shape
    return (
        max(z0 - margin, 0),
        min(z1 + margin, d),
        max(y0 - margin, 0),
        min(y1 + margin, h),
        max(x0 - margin, 0),
        min(x1 + margin, w),
    )


def _crop(t: torch.Tensor, box: Box, scale: tuple[int, int, int]) -> torch.Tensor:
    z0, z1, y0, y1, x0, x1 = box
    sz, sy, sx = scale
    return t[..., z0 * sz : z1 * sz, y0 * sy : y1 * sy, x0 * sx : x1 * sx]


class FineDecoder(nn.Module):
    """One organ's decoder: deeper features (1x1x1 conv + ReLU, upsampled) added to the next level's crop."""

    def __init__(self, widths: tuple[int, int, int, int]):
        super().__init__()
        w0, w1, w2, w3 = widths
        self.lateral = nn.ModuleList(
            nn.Sequential(nn.Conv3d(a, b, 1), nn.ReLU(inplace=True)) for a, b in ((w3, w2), (w2, w1), (w1, w0))
        )
        self.blocks = nn.ModuleList(ResBlock3d(c, c) for c in (w2, w1, w0))
        self.head = nn.Conv3d(w0, 1, 1)

    def forward(self, crops: list[torch.Tensor]) -> torch.Tensor:
        """crops: [F3, F2, F1, F0] cut to the same ROI; returns (N, 1, *F0 crop size) logits."""
        x = crops[0]
        for lateral, block, skip in zip(self.lateral, self.blocks, crops[1:], strict=True):
            x = F.interpolate(lateral(x), size=skip.shape[2:], mode="trilinear", align_corners=False)
            x = block(x + skip)
        return self.head(x)


class CoarseToFine3d(nn.Module):
    """Coarse-to-fine 3D segmentation network of [Zhang2019]; see the module docstring for the contract."""

    spatial_dims = 3
    architecture = "c2f3d"
    stride = STRIDE
    channels_last_inference = False
    slab_voxels = 4_000_000  # inference: stem + res1 run on z slabs of about this many voxels

    def __init__(
        self,
        in_channels: int = 1,
        num_classes: int = 5,
        widths: tuple[int, int, int, int] | list[int] = (32, 64, 128, 256),
        dilations: tuple[int, int] | list[int] = (3, 6),
        roi_margin: int = 1,
        threshold: float = 0.5,
    ):
        super().__init__()
        widths = tuple(int(w) for w in widths)
        dilations = tuple(int(d) for d in dilations)
        if len(widths) != 4 or len(dilations) != 2:
            raise ValueError("c2f3d needs four widths (stem, res1, res2, res3/res4) and two dilations")
        self.arguments: dict[str, Any] = {
            "in_channels": in_channels,
            "num_classes": num_classes,
            "widths": list(widths),
            "dilations": list(dilations),
            "roi_margin": roi_margin,
            "threshold": threshold,
        }
        self.num_classes = num_classes
        self.roi_margin = roi_margin
        self.threshold = threshold
        w0, w1, w2, w3 = widths
        self.stem = nn.Sequential(
            nn.Conv3d(in_channels, w0, 3, padding=1, bias=False), nn.BatchNorm3d(w0), nn.ReLU(inplace=True)
        )
        self.res1 = ResBlock3d(w0, w1, stride=(1, 2, 2))
        self.res2 = ResBlock3d(w1, w2, stride=(2, 2, 2))
        self.res3 = ResBlock3d(w2, w3, stride=(1, 2, 2), dilation=dilations[0])
        self.res4 = ResBlock3d(w3, w3, dilation=dilations[1])
        self.coarse_heads = nn.ModuleList(nn.Conv3d(c, num_classes, 1) for c in (w2, w3, w3))
        self.fine = nn.ModuleList(FineDecoder(widths) for _ in range(num_classes - 1))
        init_weights(self)

    # -- shared pieces -------------------------------------------------------------------------------
    def encode(
        self, x: torch.Tensor, keep_full_resolution: bool = True
    ) -> tuple[list[torch.Tensor | None], torch.Tensor]:
        """Padded input -> ([F3, F2, F1, F0], F_ave).

        With keep_full_resolution=False (inference) F0, the largest tensor of the net, is not kept (None:
        `_stem_crop` recomputes it per ROI) and stem + res1 run in z slabs, bounding peak memory.
        """
        if keep_full_resolution or self.training:
            f0 = self.stem(x)
            f1 = self.res1(f0)
        else:
            f0, f1 = None, self._res1_in_slabs(x)
        f2 = self.res2(f1)
        f3a = self.res3(f2)
        f3 = self.res4(f3a)
        maps = [torch.sigmoid(h(f)) for h, f in zip(self.coarse_heads, (f2, f3a, f3), strict=True)]
        maps[0] = F.avg_pool3d(maps[0], (1, 2, 2))  # res2 is one in-plane level finer
        return [f3, f2, f1, f0], (maps[0] + maps[1] + maps[2]) / 3.0

    def _res1_in_slabs(self, x: torch.Tensor) -> torch.Tensor:
        """res1(stem(x)) computed slab by slab along z (eval mode only, where batch norm is per voxel).

        Exact: each output slice depends on input slices within +-3 (three 3x3x3 convs, no z stride), so
        3-slice halos are computed and dropped; at the volume's ends there is no halo, as in one pass.
        """
        depth, plane = x.shape[2], x.shape[3] * x.shape[4]
        slab = max(16, -(-self.slab_voxels // plane))
        if depth <= slab:
            return self.res1(self.stem(x))
        halo, parts = 3, []
        for z0 in range(0, depth, slab):
            z1 = min(z0 + slab, depth)
            a, b = max(z0 - halo, 0), min(z1 + halo, depth)
            parts.append(self.res1(self.stem(x[:, :, a:b]))[:, :, z0 - a : z1 - a])
        return torch.cat(parts, dim=2)

    def _stem_crop(self, x: torch.Tensor, box: Box) -> torch.Tensor:
        """F0 on a coarse-grid ROI, recomputed from the input with a one-voxel halo (exact: one 3x3x3 conv)."""
        lo = [b * s for b, s in zip(box[0::2], STRIDE, strict=True)]
        hi = [b * s for b, s in zip(box[1::2], STRIDE, strict=True)]
        start = [max(v - 1, 0) for v in lo]
        stop = [min(v + 1, size) for v, size in zip(hi, x.shape[2:], strict=True)]
        f0 = self.stem(x[:, :, start[0] : stop[0], start[1] : stop[1], start[2] : stop[2]])
        return f0[tuple([..., *(slice(v - s, v - s + (h - v)) for v, h, s in zip(lo, hi, start, strict=True))])]

    def _fine(self, label: int, levels: list[torch.Tensor], box: Box) -> torch.Tensor:
        return self.fine[label - 1]([_crop(f, box, s) for f, s in zip(levels, LEVEL_SCALES, strict=True)])

    # -- training ------------------------------------------------------------------------------------
    def forward_train(
        self, x: torch.Tensor, target: torch.Tensor, roi_from: str = "target", with_fine: bool = True
    ) -> dict[str, torch.Tensor]:
        """Outputs for the losses (module docstring); `with_fine=False` skips the fine decoders, for
        [Zhang2019]'s first stage that trains the encoder and coarse decoder alone."""
        if roi_from not in ("target", "coarse"):
            raise ValueError(f"roi_from must be 'target' or 'coarse', got {roi_from!r}")
        if target.dim() == 5:
            target = target[:, 0]
        x, _ = pad_to_multiple(x, STRIDE)
        pads = [p for s, m in zip(reversed(target.shape[-3:]), reversed(STRIDE), strict=True) for p in (0, (-s) % m)]
        target = F.pad(target.long(), pads)  # background in the padding
        levels, coarse = self.encode(x)
        onehot = F.one_hot(target, self.num_classes).permute(0, 4, 1, 2, 3).to(coarse.dtype)
        coarse_target = F.avg_pool3d(onehot, STRIDE)
        out: dict[str, torch.Tensor] = {"coarse": coarse, "coarse_target": coarse_target}
        grid = tuple(coarse.shape[2:])
        for label in range(1, self.num_classes if with_fine else 1):
            box = _box_of((coarse_target[:, label] > 0).any(dim=0))
            if roi_from == "coarse":
                box = _box_of((coarse[:, label] > self.threshold).any(dim=0).detach()) or box
            if box is None:
                continue
            box = _grow(box, self.roi_margin, grid)
            key = class_key(label)
            out[f"fine_logits/{key}"] = self._fine(label, levels, box)
            out[f"fine_target/{key}"] = _crop(onehot[:, label : label + 1], box, STRIDE)
            out[f"fine_box/{key}"] = torch.tensor([b * STRIDE[i // 2] for i, b in enumerate(box)])
        return out

    # -- inference -----------------------------------------------------------------------------------
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x, sizes = pad_to_multiple(x, STRIDE)
        levels, coarse = self.encode(x, keep_full_resolution=False)
        organs = F.interpolate(coarse[:, 1:], size=x.shape[2:], mode="trilinear", align_corners=False)
        grid = tuple(coarse.shape[2:])
        for n in range(x.shape[0]):
            sample = [f[n : n + 1] for f in levels[:3]]
            f0 = levels[3][n : n + 1] if levels[3] is not None else None  # kept only in training mode
            for label in range(1, self.num_classes):
                box = _box_of(coarse[n, label] > self.threshold)
                if box is None:
                    continue
                box = _grow(box, self.roi_margin, grid)
                crops = [_crop(f, box, s) for f, s in zip(sample, LEVEL_SCALES[:3], strict=True)]
                crops.append(_crop(f0, box, STRIDE) if f0 is not None else self._stem_crop(x[n : n + 1], box))
                prob = torch.sigmoid(self.fine[label - 1](crops))[0, 0]
                _crop(organs[n, label - 1], box, STRIDE).copy_(prob)
        background = 1.0 - organs.amax(dim=1, keepdim=True)
        return crop_to(torch.cat([background, organs], dim=1), sizes)
