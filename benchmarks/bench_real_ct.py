"""Real-CT development check: segment the real chest CTs of ../shared/data with each model and print anatomical
plausibility figures per organ (definitions in real_ct_measures.py), plus a PNG montage per case and model.

No real CT here has organ labels, so these are plausibility figures, not accuracy: organ voxels in lung tissue,
pieces, trachea air share and coverage of a semi-automatic tracheal lumen reference, volumes against adult ranges,
relative positions. The "lcc" columns repeat a figure after keeping each organ's largest connected piece.

    python benchmarks/bench_real_ct.py [--model ID_OR_FOLDER ...] [--case NAME ...] [--out DIR] [--json FILE]
                                      [--data ../shared/data] [--postprocess SPEC ...]

Cases (skipped cleanly when ../shared/data is absent): lidc_idri_0314 (whole non-contrast chest CT),
ibsi_chest_ct_crop (a real chest CT cropped around a lung tumour), dicom_ct_abdomen_20slices (lung bases and upper
abdomen: the organs should be mostly absent).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from real_ct_measures import (  # noqa: E402  (the benchmark folder is not a package)
    ADULT_ML,
    airway_reference,
    body_interior,
    checks,
    lungs,
    measure,
    spine_centre_y,
)

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
MODELS = ("enet-demo", "enet-realct", "sunet-demo", "c2f3d-demo")
WHOLE_THORAX = ("lidc_idri_0314",)


def real_cases(shared: Path = SHARED) -> dict[str, Path]:
    """Name -> path of each real CT present under `shared` (a NIfTI file or a DICOM folder)."""
    SHARED = shared  # noqa: N806
    found: dict[str, Path] = {}
    lidc = sorted((SHARED / "lidc_idri_0314_chest_ct").glob("*.nii.gz"))
    if lidc:
        found["lidc_idri_0314"] = lidc[0]
    ibsi = sorted((SHARED / "ibsi_chest_ct_crop" / "nifti" / "image").glob("*.nii*"))
    if ibsi:
        found["ibsi_chest_ct_crop"] = ibsi[0]
    abdomen = SHARED / "dicom_ct_abdomen_20slices"
    if abdomen.is_dir():
        found["dicom_ct_abdomen_20slices"] = abdomen
    return found


def _fmt(v: object) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.3f}" if abs(v) < 10 else f"{v:.0f}"
    return str(v)


def print_table(case: str, model: str, figures: dict, seconds: float) -> None:
    print(f"\n{case} / {model}  ({seconds:.1f} s)")
    cols = ["volume_ml", "in_range", "pieces", "outside_largest", "in_lungs", "in_lungs_lcc"]
    print(f"  {'organ':10s}" + "".join(f"{c:>16s}" for c in cols) + f"{'adult ml':>14s}")
    for organ, row in figures.items():
        if organ in ("positions", "checks"):
            continue
        lo, hi = ADULT_ML[organ]
        print(f"  {organ:10s}" + "".join(f"{_fmt(row.get(c)):>16s}" for c in cols) + f"{f'{lo:.0f}-{hi:.0f}':>14s}")
    tr = figures["trachea"]
    print(
        f"  trachea: air share {_fmt(tr['air_share'])}, lumen coverage above carina {_fmt(tr['lumen_coverage'])}"
        f" (lcc {_fmt(tr['lumen_coverage_lcc'])})"
    )
    print("  positions: " + ", ".join(f"{k} {_fmt(v)}" for k, v in figures["positions"].items()))
    passed = figures["checks"]
    if not passed:
        print("  checks: not applied (the scan does not hold the whole thorax)")
        return
    failed = [k for k, ok in passed.items() if not ok]
    print(f"  checks passed {sum(passed.values())}/{len(passed)}; failed: {', '.join(failed) or 'none'}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--model", action="append", help="model id or package folder (repeatable; default: " + ", ".join(MODELS) + ")"
    )
    parser.add_argument("--case", action="append", help="only these cases (repeatable)")
    parser.add_argument(
        "--out", type=Path, default=Path(tempfile.gettempdir()) / "segthor_real_ct", help="folder for the PNG montages"
    )
    parser.add_argument("--data", type=Path, default=SHARED, help="the shared data folder (default ../shared/data)")
    parser.add_argument("--json", type=Path, help="also write all figures to this JSON file")
    parser.add_argument(
        "--postprocess",
        action="append",
        help="clean-up as `segthor segment --postprocess` takes it (repeatable; default: none, the network's own "
        "labels; 'default' for the product's defaults)",
    )
    args = parser.parse_args()
    specs = args.postprocess or ["none"]

    cases = real_cases(args.data)
    if args.case:
        cases = {k: v for k, v in cases.items() if k in args.case}
    if not cases:
        print(f"skipped: no real CT found under {args.data} (only developers' checkouts have ../shared/data)")
        return 0

    import torch

    from segthor.inference.postprocess import PostprocessOptions
    from segthor.inference.prediction import predict
    from segthor.io.volume import read_volume
    from segthor.model_packages import load_model_package
    from segthor.render import write_overlay_png
    from segthor.render.overlay import to_lps_canonical

    args.out.mkdir(parents=True, exist_ok=True)
    device = torch.device("cpu")
    options = PostprocessOptions.parse(None if specs == ["default"] else specs)
    print(f"clean-up: {options.steps_dict() or 'none'}")
    results: dict[str, dict] = {}
    for case, path in cases.items():
        volume = read_volume(path)
        hu, spacing = to_lps_canonical(volume.array.astype(np.float32), volume.direction, volume.spacing)
        t0 = time.perf_counter()
        body = body_interior(hu)
        airway = airway_reference(hu, body, spacing)
        lung = lungs(hu, body, airway, spacing)
        spine_y = spine_centre_y(hu, body, spacing)
        voxel_ml = spacing[0] * spacing[1] * spacing[2] / 1000.0
        print(
            f"\n=== {case}: {volume.describe_geometry()}; references in {time.perf_counter() - t0:.1f} s: "
            f"lungs {lung.sum() * voxel_ml:.0f} ml, tracheal lumen above carina "
            f"{airway.above_carina.sum() * voxel_ml:.1f} ml (seed slice {airway.seed_z}, {airway.note})"
        )
        # The references drawn for a look: the lumen (above the carina in the trachea's colour, the 2 cm of main
        # bronchi in the esophagus's) centred on the airway, and the lungs in the heart's colour.
        airway_lps = np.where(airway.above_carina, 3, np.where(airway.with_bronchi, 1, 0)).astype(np.uint8)
        write_overlay_png(
            volume,
            _from_lps(airway_lps, volume),
            args.out / f"{case}__airway_reference.png",
            title=f"{case}: tracheal lumen above the carina (trachea colour), main bronchi 2 cm",
        )
        write_overlay_png(
            volume,
            _from_lps(lung.astype(np.uint8) * 2, volume),
            args.out / f"{case}__lung_reference.png",
            title=f"{case}: lung-density tissue (red)",
        )
        results[case] = {
            "airway_note": airway.note,
            "lumen_ml": round(float(airway.above_carina.sum() * voxel_ml), 1),
            "lungs_ml": round(float(lung.sum() * voxel_ml), 0),
            "postprocess": options.steps_dict(),
            "models": {},
        }
        for model in args.model or list(MODELS):
            package = load_model_package(model, "cpu")
            t0 = time.perf_counter()
            labels = predict(volume, package, device, postprocess=options).labels.array
            seconds = time.perf_counter() - t0
            lab_lps, _ = to_lps_canonical(labels, volume.direction, volume.spacing)
            figures = measure(hu, lab_lps, spacing, airway, lung, spine_y)
            name = Path(model).name
            # The pass/fail checks assume the whole thorax is in the scan (the development CT); the cropped and
            # abdominal cases only print their figures.
            figures["checks"] = checks(figures, bool(airway.above_carina.any())) if case in WHOLE_THORAX else {}
            print_table(case, name, figures, seconds)
            write_overlay_png(volume, labels, args.out / f"{case}__{name}.png", title=f"{case}: {name}")
            results[case]["models"][name] = figures
    print(f"\nmontages in {args.out}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


def _from_lps(array_lps: np.ndarray, volume) -> np.ndarray:
    """Put an LPS-canonical [z, y, x] array back into `volume`'s own array order."""
    from segthor.render.overlay import to_lps_canonical

    index = np.arange(array_lps.size).reshape(volume.array.shape)
    index_lps, _ = to_lps_canonical(index, volume.direction, volume.spacing)
    out = np.empty(array_lps.size, array_lps.dtype)
    out[index_lps.ravel()] = array_lps.ravel()
    return out.reshape(volume.array.shape)


if __name__ == "__main__":
    raise SystemExit(main())
