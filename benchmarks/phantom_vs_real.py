"""Phantoms v2 (and v1) beside a real chest CT: same window, same levels relative to the carina, and HU figures.

    .venv/bin/python benchmarks/phantom_vs_real.py [REAL_CT.nii.gz] [--seed 11] [--out PNG]

REAL_CT defaults to ../shared/data/lidc_idri_0314_chest_ct/LIDC-IDRI-0314_CT_2.5mm.nii.gz (CC BY 3.0, TCIA
LIDC-IDRI; developers' checkouts only). The phantoms get the real scan's pixel and slice spacing. The real
scan's carina is found by following the tracheal air column down from the top slice until it splits.
Prints, for body voxels of each volume, the share in HU bands and the median HU of fat and soft tissue.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "Logic"))

from segthor.phantom import generate_case  # noqa: E402
from segthor.phantom.v2 import generate_case_v2  # noqa: E402

DEFAULT_REAL = ROOT.parent / "shared" / "data" / "lidc_idri_0314_chest_ct" / "LIDC-IDRI-0314_CT_2.5mm.nii.gz"
LEVELS_MM = (60.0, 25.0, -30.0, -75.0)  # above (+) / below (-) the carina
WINDOW = (-160, 240)  # W400 L40, the usual mediastinal window
BANDS = (
    (-1100, -900, "air/lung <-900"),
    (-900, -200, "lung -900..-200"),
    (-200, -30, "fat -200..-30"),
    (-30, 100, "soft -30..100"),
    (100, 3100, "bone/contrast >100"),
)


def body_mask(ct: np.ndarray) -> np.ndarray:
    """Voxels inside the patient: above -500 HU, holes filled per slice, the largest piece (no table)."""
    from scipy import ndimage as ndi

    dense = ct > -500
    out = np.zeros_like(dense)
    for k in range(ct.shape[0]):
        lab, n = ndi.label(ndi.binary_opening(dense[k], iterations=2))
        if n:
            sizes = np.bincount(lab.ravel())[1:]
            out[k] = ndi.binary_fill_holes(lab == 1 + int(np.argmax(sizes)))
    return out


def find_carina(ct: np.ndarray) -> int:
    """Slice index of the carina: follow the tracheal air column down from the top until it splits in two."""
    from scipy import ndimage as ndi

    body = body_mask(ct)
    prev = None
    for k in range(ct.shape[0] - 1, -1, -1):
        air = (ct[k] < -900) & body[k]
        lab, n = ndi.label(air)
        if n == 0:
            continue
        sizes = np.bincount(lab.ravel())
        if prev is None:
            h, w = air.shape
            cms = ndi.center_of_mass(air, lab, range(1, n + 1))
            near = [i + 1 for i, c in enumerate(cms) if abs(c[1] - w / 2) < w / 8 and 20 < sizes[i + 1] < 2000]
            if near:
                prev = lab == near[0]
            continue
        hit = [i for i in np.unique(lab[prev]) if i and sizes[i] > 15]
        if len(hit) >= 2:
            return k
        if not hit:
            prev = None
            continue
        prev = lab == hit[0]
    raise ValueError("no carina found")


def bands(ct: np.ndarray) -> str:
    body = body_mask(ct)
    v = ct[body]
    parts = [f"{name} {np.mean((v >= lo) & (v < hi)) * 100:4.1f}%" for lo, hi, name in BANDS]
    fat = v[(v > -200) & (v < -30)]
    soft = v[(v > -30) & (v < 100)]
    return ", ".join(parts) + f"; median fat {np.median(fat):.0f} HU, soft {np.median(soft):.0f} HU"


def main() -> int:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import SimpleITK as sitk

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("real", nargs="?", type=Path, default=DEFAULT_REAL)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "images" / "phantom_v2_vs_real.png")
    args = ap.parse_args()
    if not args.real.is_file():
        print(f"real CT {args.real} not found (only developers' checkouts have ../shared/data)")
        return 2
    image = sitk.ReadImage(str(args.real))
    real = sitk.GetArrayFromImage(image).astype(np.int16)
    sx, sy, sz = image.GetSpacing()
    k_real = find_carina(real)
    size = real.shape[2]
    common = dict(size=size, n_slices=real.shape[0], spacing_xy=sx, spacing_z=sz)
    v2 = generate_case_v2(args.seed, contrast=False, arms="up", **common)
    v2dr = generate_case_v2(args.seed + 1, domain_random=True, **common)
    v1 = generate_case(args.seed, contrast=False, **common)
    rows = [("real (LIDC-IDRI-0314)", real, k_real)]
    for name, case in (("phantom v2", v2), ("v2 domain-randomised", v2dr), ("phantom v1", v1)):
        k = int(round((case.params["carina_z_lps"] - case.ct.origin[2]) / case.ct.spacing[2]))
        rows.append((name, case.ct.array, k))
    for name, ct, _ in rows:
        print(f"{name:24s} {bands(ct)}")

    fig, axes = plt.subplots(len(rows), len(LEVELS_MM) + 1, figsize=(2.2 * (len(LEVELS_MM) + 1), 2.3 * len(rows)))
    for r, (name, ct, k0) in enumerate(rows):
        # Domain-randomised intensities have no HU meaning: that row gets its own 1-99 % window.
        lo, hi = np.percentile(ct, (1, 99)) if "random" in name else WINDOW
        for c, level in enumerate(LEVELS_MM):
            k = int(np.clip(round(k0 + level / sz), 0, ct.shape[0] - 1))
            ax = axes[r, c]
            ax.imshow(ct[k], cmap="gray", vmin=lo, vmax=hi)
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(f"carina {level:+.0f} mm", fontsize=8)
            if c == 0:
                ax.set_ylabel(name, fontsize=8)
        ax = axes[r, -1]
        j = ct.shape[1] // 2 - int(20 / sy)
        ax.imshow(ct[::-1, j], cmap="gray", vmin=lo, vmax=hi, aspect=sz / sx)
        ax.set_xticks([])
        ax.set_yticks([])
        if r == 0:
            ax.set_title("coronal", fontsize=8)
    fig.suptitle("W400 L40; phantoms synthetic, not patient data", fontsize=8)
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=60)
    from PIL import Image

    # Grey images: a 64-level palette keeps the PNG small for the docs.
    Image.open(args.out).convert("L").quantize(64).save(args.out, optimize=True)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
