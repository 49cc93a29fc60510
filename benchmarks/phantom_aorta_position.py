"""Where phantom v2 puts the descending aorta and the esophagus relative to the spine, at three mid-heart levels.

    .venv/bin/python benchmarks/phantom_aorta_position.py [SEED ...] [--size 192] [--slices 96]

For each seed and level (35, 50, 65 % down the heart's extent) prints: z (mm from the carina); the gap (mm)
between the aorta label and the vertebral column's bone (this slice and its neighbours, within the bodies' box;
centre-to-centre distance less one pixel); the aorta's centre x (mm left of the spine's centre, x = 0); the
aorta's centre y relative to the vertebral bodies' front (mm, + = behind); the esophagus's centre relative to
the aorta's (x, y mm; - = right, in front) and its label area (mm2). Adults: gap 0-5 mm, centre 20-30 mm left at
T5-T9, esophagus right of and in front of the aorta, 150-250 mm2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "Logic"))

from segthor.phantom.tissue import Tissue  # noqa: E402
from segthor.phantom.v2.anatomy import build_anatomy_v2  # noqa: E402
from segthor.phantom.v2.generator import prepare  # noqa: E402
from segthor.phantom.v2.params import draw_params_v2  # noqa: E402

ESOPHAGUS, HEART, AORTA = 1, 2, 4


def measure(seed: int, size: int = 192, n_slices: int = 96) -> list[dict]:
    """Figures at three mid-heart levels of v2 case `seed` (see the module docstring)."""
    from scipy import ndimage as ndi

    p = draw_params_v2(seed, size=size, n_slices=n_slices)
    _, _, grid, lay = prepare(p)
    anat = build_anatomy_v2(p, grid, lay)
    lab, tis = anat.label_map(), anat.tissue
    xs, ys, zs = grid.axis("x"), grid.axis("y"), grid.axis("z")
    X, Y = np.meshgrid(xs, ys)
    hk = np.nonzero((lab == HEART).any(axis=(1, 2)))[0]
    rows = []
    for f in (0.35, 0.5, 0.65):
        k = hk[0] + int(f * (hk[-1] - hk[0]))
        front, ry = float(lay.spine_front(zs[k])), p["vertebra_ry_mm"]
        body = (np.abs(X) < p["vertebra_rx_mm"] + 4) & (np.abs(Y - (front + ry - 1.0)) < ry + 3.0)
        bone = np.isin(tis[max(k - 1, 0) : k + 2], [Tissue.BONE_CORTEX, Tissue.BONE_TRABECULAR]).any(axis=0) & body
        ao, eso = lab[k] == AORTA, lab[k] == ESOPHAGUS
        if not (ao.any() and eso.any() and bone.any()):
            continue
        d = ndi.distance_transform_edt(~bone, sampling=(grid.spacing[1], grid.spacing[0]))
        rows.append(
            {
                "z": float(zs[k]),
                "gap": max(float(d[ao].min()) - grid.spacing[0], 0.0),
                "aorta_x": float(X[ao].mean()),
                "aorta_y_behind_front": float(Y[ao].mean()) - front,
                "eso_dx": float(X[eso].mean() - X[ao].mean()),
                "eso_dy": float(Y[eso].mean() - Y[ao].mean()),
                "eso_area": float(eso.sum() * grid.spacing[0] * grid.spacing[1]),
                "drawn_x": p["v2_aorta_desc_x_mm"],
            }
        )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("seeds", nargs="*", type=int, default=[1, 2, 3])
    ap.add_argument("--size", type=int, default=192)
    ap.add_argument("--slices", type=int, default=96)
    args = ap.parse_args()
    print("seed      z  gap  aorta_x (drawn)  aorta_y-front  eso_dx  eso_dy  eso_mm2")
    for seed in args.seeds:
        for r in measure(seed, args.size, args.slices):
            print(
                f"{seed:4d} {r['z']:6.0f} {r['gap']:4.1f} {r['aorta_x']:8.1f} ({r['drawn_x']:4.1f}) "
                f"{r['aorta_y_behind_front']:13.1f} {r['eso_dx']:7.1f} {r['eso_dy']:7.1f} {r['eso_area']:8.0f}"
            )


if __name__ == "__main__":
    main()
