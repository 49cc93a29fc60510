"""A PNG montage of a CT with its organ labels: axial, coronal and sagittal views through the organs' centre.

Pillow only (no matplotlib), so the segmentation command can call it at run time. Views are shown the
radiological way (patient's left on the image's right, head up) at their true physical aspect ratio, whatever
the voxel spacing or the image's axis order; labels are filled and outlined in the organ table's colours.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from segthor.boxes import nonzero_box
from segthor.io.atomic import atomic_path
from segthor.io.volume import Volume
from segthor.organs import ORGANS

WINDOW = (-400.0, 600.0)  # HU shown from black to white
PANEL_HEIGHT = 360  # pixels of the axial view; the other views share its mm-per-pixel scale
FILL_ALPHA = 0.35
_BACKGROUND = (16, 16, 16)
_TEXT = (235, 235, 235)


def to_lps_canonical(array: np.ndarray, direction: np.ndarray, spacing) -> tuple[np.ndarray, tuple[float, ...]]:
    """Reorder/flip a [k, j, i] array so its axes run along LPS z, y, x ascending; return it with (sx, sy, sz).

    Oblique directions are snapped to the nearest axis (a preview needs no resampling).
    """
    d = np.asarray(direction, dtype=float).reshape(3, 3)
    perm = [0, 0, 0]
    flips = []
    sp_lps = [1.0, 1.0, 1.0]
    used: set[int] = set()
    for m in range(3):  # image axis m: 0 = i (columns), 1 = j, 2 = k
        order = np.argsort(-np.abs(d[:, m]))
        a = int(next(ax for ax in order if ax not in used))
        used.add(a)
        perm[2 - a] = 2 - m
        if d[a, m] < 0:
            flips.append(2 - a)
        sp_lps[a] = float(spacing[m])
    out = np.transpose(array, perm)
    for axis in flips:
        out = np.flip(out, axis=axis)
    return out, tuple(sp_lps)


def _organ_centre(labels: np.ndarray) -> tuple[int, int, int]:
    box = nonzero_box(labels)  # np.nonzero of the whole CT would visit every voxel
    if box is None:
        return tuple(n // 2 for n in labels.shape)
    fg = np.nonzero(labels[box])
    # The median is robust to a stray far-away voxel.
    return tuple(int(np.median(c + b.start)) for c, b in zip(fg, box, strict=True))


def _panel(ct2d: np.ndarray, lab2d: np.ndarray, size: tuple[int, int]):
    from PIL import Image

    lo, hi = WINDOW
    grey = np.clip((ct2d.astype(np.float32) - lo) / (hi - lo), 0.0, 1.0) * 255.0
    img = Image.fromarray(grey.astype(np.uint8), mode="L").resize(size, Image.BILINEAR)
    lab = np.asarray(Image.fromarray(lab2d.astype(np.uint8), mode="L").resize(size, Image.NEAREST))
    rgb = np.repeat(np.asarray(img, dtype=np.float32)[:, :, None], 3, axis=2)
    for organ in ORGANS:
        m = lab == organ.label
        if not m.any():
            continue
        colour = np.array(organ.color_rgb, dtype=np.float32)
        rgb[m] = (1 - FILL_ALPHA) * rgb[m] + FILL_ALPHA * colour
        inner = m.copy()
        inner[1:, :] &= m[:-1, :]
        inner[:-1, :] &= m[1:, :]
        inner[:, 1:] &= m[:, :-1]
        inner[:, :-1] &= m[:, 1:]
        rgb[m & ~inner] = colour
    return Image.fromarray(rgb.astype(np.uint8), mode="RGB")


def _font(size: int):
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError):  # Pillow without FreeType: the fixed bitmap font
        return ImageFont.load_default()


def write_overlay_png(
    ct: Volume,
    labels: np.ndarray,
    path: str | os.PathLike[str],
    title: str | None = None,
) -> Path:
    """Write the three-view montage of `ct` (HU) with `labels` ([z, y, x] uint8, same grid) to `path`."""
    from PIL import Image, ImageDraw

    labels = np.asarray(labels)
    if labels.shape != ct.array.shape:
        raise ValueError(f"labels shape {labels.shape} differs from the CT's {ct.array.shape}")
    vol, (sx, sy, sz) = to_lps_canonical(ct.array, ct.direction, ct.spacing)
    lab, _ = to_lps_canonical(labels, ct.direction, ct.spacing)
    depth, rows, cols = vol.shape
    zc, yc, xc = _organ_centre(lab)
    px_per_mm = PANEL_HEIGHT / (rows * sy)

    def px(n: int, s: float) -> int:
        return max(1, int(round(n * s * px_per_mm)))

    panels = [
        ("axial", _panel(vol[zc], lab[zc], (px(cols, sx), px(rows, sy)))),
        ("coronal", _panel(vol[::-1, yc, :], lab[::-1, yc, :], (px(cols, sx), px(depth, sz)))),
        ("sagittal", _panel(vol[::-1, :, xc], lab[::-1, :, xc], (px(rows, sy), px(depth, sz)))),
    ]
    gap, top, bottom = 8, 30 if title else 8, 34
    width = sum(p.width for _, p in panels) + gap * (len(panels) + 1)
    height = top + max(p.height for _, p in panels) + 18 + bottom
    canvas = Image.new("RGB", (width, height), _BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    font = _font(13)
    if title:
        draw.text((gap, 8), title, fill=_TEXT, font=font)
    x = gap
    for name, panel in panels:
        canvas.paste(panel, (x, top))
        draw.text((x + 4, top + panel.height + 3), name, fill=_TEXT, font=font)
        x += panel.width + gap
    # Legend: one colour swatch per organ, in label order.
    x, y = gap, height - bottom + 8
    for organ in ORGANS:
        draw.rectangle((x, y, x + 14, y + 14), fill=organ.color_rgb)
        draw.text((x + 20, y), f"{organ.label} {organ.name}", fill=_TEXT, font=font)
        x += 30 + int(draw.textlength(f"{organ.label} {organ.name}", font=font))
    draw.text((x + 10, y), f"window [{WINDOW[0]:.0f}, {WINDOW[1]:.0f}] HU", fill=_TEXT, font=font)

    path = Path(path)
    with atomic_path(path) as tmp:
        canvas.save(tmp, format="PNG")
    return path
