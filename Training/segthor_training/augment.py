"""Data augmentation of [Lambert2020] and [deReus]: random affine (rotation, isotropic scale, in-plane
translation; never a mirror, which would be anatomically impossible) and B-spline elastic deformation on a
2x2(x2) control grid; for transfer to real CT also an in-plane aspect change (body habitus) and appearance augmentation
(`segthor_training.appearance`, the training config's `augmentation.appearance` object).

Works on 2D slices [y, x] and 3D crops [z, y, x]; rotations are in-plane (about z). SimpleITK resamples the
image linearly and the labels with nearest neighbour through the same transform, in voxel units.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from segthor_training.appearance import AppearanceConfig, apply_appearance


@dataclass(frozen=True)
class AugmentConfig:
    affine_probability: float = 0.5
    rotation_deg: float = 10.0
    scale_range: tuple[float, float] = (0.9, 1.1)
    translation_px: float = 10.0
    elastic_probability: float = 0.0
    elastic_grid: int = 2  # control-point mesh per axis ([Lambert2020]: 2x2x2)
    elastic_sigma_px: float = 4.0  # standard deviation of control-point displacements
    aspect_range: tuple[float, float] = (1.0, 1.0)  # extra x scale / y scale (wider or deeper chests)
    appearance: AppearanceConfig = AppearanceConfig()

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> AugmentConfig:
        d = dict(d or {})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown augmentation key(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        for key in ("scale_range", "aspect_range"):
            if key in d:
                d[key] = tuple(d[key])
        d["appearance"] = AppearanceConfig.from_dict(d.get("appearance"))
        return cls(**d)

    @property
    def geometric(self) -> bool:
        return self.affine_probability > 0 or self.elastic_probability > 0

    @property
    def active(self) -> bool:
        return self.geometric or self.appearance.active


def _affine(dim: int, centre: list[float], rng: np.random.Generator, cfg: AugmentConfig) -> Any:
    import SimpleITK as sitk

    angle = math.radians(rng.uniform(-cfg.rotation_deg, cfg.rotation_deg))
    scale = rng.uniform(*cfg.scale_range)
    c, s = math.cos(angle) / scale, math.sin(angle) / scale  # the transform maps output to input points
    matrix = np.eye(dim)
    matrix[:2, :2] = [[c, -s], [s, c]]  # sitk's (x, y[, z]) order: rotate x, y about z
    if cfg.aspect_range != (1.0, 1.0):
        aspect = math.sqrt(rng.uniform(*cfg.aspect_range))
        matrix[:2, :2] = matrix[:2, :2] @ np.diag([1.0 / aspect, aspect])  # output x stretched by aspect**2 vs y
    if dim == 3:
        matrix[2, 2] = 1.0 / scale
    shift = [rng.uniform(-cfg.translation_px, cfg.translation_px) for _ in range(2)] + [0.0] * (dim - 2)
    t = sitk.AffineTransform(dim)
    t.SetMatrix(matrix.flatten().tolist())
    t.SetCenter(centre)
    t.SetTranslation(shift)
    return t


def _elastic(image: Any, rng: np.random.Generator, cfg: AugmentConfig) -> Any:
    import SimpleITK as sitk

    t = sitk.BSplineTransformInitializer(image, [cfg.elastic_grid] * image.GetDimension(), 3)
    params = rng.normal(0.0, cfg.elastic_sigma_px, len(t.GetParameters()))
    t.SetParameters(np.clip(params, -3 * cfg.elastic_sigma_px, 3 * cfg.elastic_sigma_px).tolist())
    return t


def augment(
    image: np.ndarray,
    labels: np.ndarray,
    rng: np.random.Generator,
    cfg: AugmentConfig,
    hu_per_unit: float = 500.0,
    channel_labels: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Randomly deformed and re-styled copies of a 2D [y, x] or 3D [z, y, x] image and its labels (the inputs
    themselves when no transform fires). `hu_per_unit`: HU per network-input unit, used when the appearance
    config does not set it. Geometry moves image and labels together; appearance changes the image only.

    A 2.5D stack [C, y, x] over labels [y, x] moves as one image (every channel by the same transform) and
    `channel_labels` [C, y, x], each channel's own labels (the nearest slice's), move with it and select each
    channel's per-organ HU shifts, so a neighbour slice is not shifted inside the centre slice's outline."""
    image, labels, channel_labels = _geometric(image, labels, rng, cfg, channel_labels)
    if cfg.appearance.active:
        stack = image.ndim == labels.ndim + 1
        image = apply_appearance(
            image,
            channel_labels if channel_labels is not None else labels,
            rng,
            cfg.appearance,
            cfg.appearance.hu_per_unit or hu_per_unit,
            channels=stack,
        )
    return image, labels


def _geometric(
    image: np.ndarray,
    labels: np.ndarray,
    rng: np.random.Generator,
    cfg: AugmentConfig,
    channel_labels: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    import SimpleITK as sitk

    do_affine = rng.random() < cfg.affine_probability
    do_elastic = rng.random() < cfg.elastic_probability
    if not (do_affine or do_elastic):
        return image, labels, channel_labels
    # A 2.5D stack (C, y, x) over labels (y, x) moves as one vector image: every channel by the same transform.
    channels = image.ndim == labels.ndim + 1
    pixels = np.moveaxis(image, 0, -1) if channels else image
    img = sitk.GetImageFromArray(np.ascontiguousarray(pixels, dtype=np.float32), isVector=channels)
    transform = sitk.CompositeTransform(img.GetDimension())
    if do_affine:
        centre = [(n - 1) / 2.0 for n in img.GetSize()]
        transform.AddTransform(_affine(img.GetDimension(), centre, rng, cfg))
    if do_elastic:
        transform.AddTransform(_elastic(img, rng, cfg))
    fill = float(image.min())
    out_img = sitk.Resample(
        img, img, transform, sitk.sitkLinear, fill, sitk.sitkVectorFloat32 if channels else sitk.sitkFloat32
    )
    lab = sitk.GetImageFromArray(np.ascontiguousarray(labels, dtype=np.uint8))
    out_lab = sitk.Resample(lab, lab, transform, sitk.sitkNearestNeighbor, 0, sitk.sitkUInt8)
    out_pixels = sitk.GetArrayFromImage(out_img)
    if channel_labels is not None:
        per = sitk.GetImageFromArray(np.ascontiguousarray(np.moveaxis(channel_labels, 0, -1), np.uint8), isVector=True)
        per = sitk.Resample(per, per, transform, sitk.sitkNearestNeighbor, 0, sitk.sitkVectorUInt8)
        channel_labels = np.moveaxis(sitk.GetArrayFromImage(per), -1, 0)
    return (np.moveaxis(out_pixels, -1, 0) if channels else out_pixels), sitk.GetArrayFromImage(out_lab), channel_labels
