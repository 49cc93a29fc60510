"""Helpers for the segmentation tests: small synthetic CTs and a stand-in network (imported by conftest)."""

from __future__ import annotations

import numpy as np

from segthor.io.volume import Volume

# A permuted and flipped direction (image axes along -S, +L, -P) to prove outputs land in the input's geometry.
OBLIQUE_DIRECTION = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, -1.0], [-1.0, 0.0, 0.0]])
FAST2D = {
    "name": "fast2d",
    "clip_hu": [-1000.0, 1000.0],
    "spacing": [2.0, 2.0, None],
    "crop": "body",
    "body_threshold_hu": -500.0,
    "crop_margin_mm": 10.0,
    "normalize": "fixed",
    "hu_center": 0.0,
    "hu_scale": 500.0,
}


def make_ct(shape=(10, 48, 44), spacing=(1.0, 1.1, 2.5), direction=None, origin=(12.0, -30.0, 5.0)) -> Volume:
    """Air around an elliptic body (0 HU) holding a bright 'heart' block (300 HU), deterministic."""
    z, y, x = shape
    zz, yy, xx = np.mgrid[0:z, 0:y, 0:x]
    ct = np.full(shape, -1000, dtype=np.int16)
    body = ((yy - y / 2) / (y * 0.42)) ** 2 + ((xx - x / 2) / (x * 0.42)) ** 2 <= 1
    ct[body] = 0
    heart = (zz >= 2) & (zz < z - 2) & (abs(yy - y * 0.55) < y * 0.15) & (abs(xx - x * 0.45) < x * 0.17)
    ct[heart] = 300
    return Volume(ct, spacing, origin, OBLIQUE_DIRECTION if direction is None else direction)


def heart_truth(ct: Volume) -> np.ndarray:
    return (ct.array > 150).astype(np.uint8) * 2


def threshold_net():
    """A stand-in 2D 'network': heart where the fixed-scaled input exceeds 0.3 (150 HU). Exact, so geometry
    errors (flips, transposes, shifts) show up as a Dice drop."""
    import torch
    from torch import nn

    class ThresholdNet(nn.Module):
        spatial_dims = 2

        def forward(self, x):
            heart = (x[:, 0] > 0.3).to(x.dtype)
            logits = torch.zeros((x.shape[0], 5, *x.shape[2:]), dtype=x.dtype, device=x.device)
            logits[:, 0] = 1 - heart
            logits[:, 2] = heart
            return logits

    return ThresholdNet()


def scene_state(scene):
    """Node ids, plus every segmentation's segment ids and voxel checksums."""
    import slicer

    state = []
    for i in range(scene.GetNumberOfNodes()):
        node = scene.GetNthNode(i)
        entry = [node.GetID(), node.GetName()]
        if node.IsA("vtkMRMLSegmentationNode"):
            seg = node.GetSegmentation()
            for j in range(seg.GetNumberOfSegments()):
                sid = seg.GetNthSegmentID(j)
                entry.append((sid, int(slicer.util.arrayFromSegmentInternalBinaryLabelmap(node, sid).sum())))
        state.append(tuple(entry))
    return state
