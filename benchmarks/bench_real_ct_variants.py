"""Real-CT robustness check: the development CT re-made as other scanners and protocols would have acquired or
stored it, segmented with the product's defaults, each variant's plausibility checks (real_ct_measures.py) and its
agreement with the unchanged CT's segmentation.

The project keeps real CTs from other scanners aside for its own checks; this benchmark asks the same question of
the one real whole-thorax CT it has: does the answer survive what changes from site to site? Each variant is a
plain image operation on lidc_idri_0314 (no labels are involved):

    storage     the same voxels stored feet-first (k reversed) or right-to-left (i reversed): the labels must be
                identical after mapping back (agreement 1.000)
    slices      5 mm slices (two 2.5 mm slices averaged, as a thicker reconstruction) and 1.25 mm (linear)
    pixels      1.0 mm pixels (a larger reconstruction field, Gaussian anti-aliasing first)
    kernel      soft (Gaussian, sigma 1 px) and sharp (unsharp mask, gain 1.5, sigma 1 px: a lung/bone kernel)
    dose        correlated noise of SD 40 HU added (a low-dose scan; fixed seed)
    calibration every HU shifted by +-30 (a drifting water calibration)
    field       a 350 mm reconstruction circle (the body's sides cut off; -3024 HU outside it, as many scanners
                pad)
    coverage    the top and bottom 15 % of the slices dropped (a scan limited to the thorax's middle)

No contrast phase is made: where the blood is (and where the myocardium, which enhances less) is what this
non-contrast CT cannot say; a trial that enhanced the model's own heart and aorta labels measured the trial's
own assumptions.

Agreement is the Dice of each organ between the variant's labels, resampled (nearest neighbour, physical space)
onto the original grid, and the original's labels, over the original slices the variant covers.

    python benchmarks/bench_real_ct_variants.py [--model ID_OR_FOLDER] [--variant NAME ...] [--out DIR]
                                               [--data ../shared/data] [--json FILE]
    python benchmarks/bench_real_ct_variants.py --labelled FOLDER [--model ...] [--variant NAME ...]

Skipped cleanly when ../shared/data is absent. With `--labelled FOLDER` (SegTHOR layout, e.g. held-out phantoms
from `segthor phantom`) the same variants are made of each labelled case and scored against its ground truth
instead: Dice per organ in the original grid (the variant's labels mapped back, over the slices it covers), the
mean over the cases, and its change from the unchanged cases.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_real_ct import SHARED, real_cases  # noqa: E402  (the benchmark folder is not a package)
from real_ct_measures import airway_reference, body_interior, checks, lungs, measure, spine_centre_y  # noqa: E402

PAD_HU = -3024.0  # the padding value many scanners write outside the reconstruction circle


def _sitk():
    import SimpleITK as sitk

    return sitk


def _resample(image, spacing: tuple[float, float, float], smooth_sigma_mm: tuple[float, float, float] | None):
    from segthor.preprocessing.grid import ImageGrid, resample

    sitk = _sitk()
    if smooth_sigma_mm is not None:
        image = sitk.SmoothingRecursiveGaussian(sitk.Cast(image, sitk.sitkFloat32), smooth_sigma_mm)
    size = [int(round(n * s / t)) for n, s, t in zip(image.GetSize(), image.GetSpacing(), spacing, strict=True)]
    grid = ImageGrid(tuple(size), tuple(spacing), image.GetOrigin(), image.GetDirection())
    return resample(image, grid, "linear", -1024.0, sitk.sitkFloat32)


def _array_op(volume, fn: Callable[[np.ndarray], np.ndarray]):
    return volume.with_array(fn(volume.array.astype(np.float32)).astype(np.float32))


def _flip_storage(volume, axis_ijk: int):
    """The same physical image with array axis i (0), j (1) or k (2) stored in reverse."""
    from segthor.io.volume import Volume

    arr_axis = 2 - axis_ijk
    n = volume.array.shape[arr_axis]
    direction = volume.direction.copy()
    origin = np.asarray(volume.origin, float) + direction[:, axis_ijk] * volume.spacing[axis_ijk] * (n - 1)
    direction[:, axis_ijk] *= -1
    return Volume(np.flip(volume.array, axis=arr_axis).copy(), volume.spacing, tuple(origin), direction)


def _gauss_inplane(a: np.ndarray, sigma_px: float) -> np.ndarray:
    from scipy import ndimage

    return ndimage.gaussian_filter(a, (0, sigma_px, sigma_px))


def _noise(a: np.ndarray, sd_hu: float = 40.0, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = _gauss_inplane(rng.standard_normal(a.shape).astype(np.float32), 0.8)
    return a + n * (sd_hu / float(n.std()))


def _field(volume, diameter_mm: float = 350.0):
    from segthor.io.volume import Volume

    a = volume.array.astype(np.float32)
    sy, sx = volume.spacing[1], volume.spacing[0]
    body = a > -500
    cy = float(np.mean(np.nonzero(body.any(axis=(0, 2)))[0]))  # the body's (and table's) extent in y
    cx = float(np.mean(np.nonzero(body.any(axis=(0, 1)))[0]))
    ny, nx = int(diameter_mm / sy), int(diameter_mm / sx)
    y0, x0 = max(0, int(cy - ny / 2)), max(0, int(cx - nx / 2))
    crop = a[:, y0 : y0 + ny, x0 : x0 + nx].copy()
    yy, xx = np.mgrid[: crop.shape[1], : crop.shape[2]]
    outside = ((yy - (cy - y0)) * sy) ** 2 + ((xx - (cx - x0)) * sx) ** 2 > (diameter_mm / 2) ** 2
    crop[:, outside] = PAD_HU
    origin = np.asarray(volume.origin, float) + volume.direction @ np.array([x0 * sx, y0 * sy, 0.0])
    return Volume(crop, volume.spacing, tuple(origin), volume.direction.copy())


def _coverage(volume, fraction: float = 0.15):
    from segthor.io.volume import Volume

    nz = volume.array.shape[0]
    k0, k1 = int(nz * fraction), nz - int(nz * fraction)
    origin = np.asarray(volume.origin, float) + volume.direction[:, 2] * volume.spacing[2] * k0
    return Volume(volume.array[k0:k1].copy(), volume.spacing, tuple(origin), volume.direction.copy())


def _via_sitk(volume, spacing_fn, smooth_fn):
    from segthor.io.volume import Volume

    image = volume.to_sitk()
    sp = image.GetSpacing()
    return Volume.from_sitk(_resample(image, spacing_fn(sp), smooth_fn(sp)))


def _unsharp(a: np.ndarray) -> np.ndarray:
    return a + 1.5 * (a - _gauss_inplane(a, 1.0))


VARIANTS: dict[str, Callable] = {
    "original": lambda v: v,
    "feet_first": lambda v: _flip_storage(v, 2),
    "right_to_left": lambda v: _flip_storage(v, 0),
    "slices_5mm": lambda v: _via_sitk(v, lambda s: (s[0], s[1], 2 * s[2]), lambda s: (1e-3, 1e-3, s[2] * 0.85)),
    "slices_1.25mm": lambda v: _via_sitk(v, lambda s: (s[0], s[1], s[2] / 2), lambda s: None),
    "pixels_1mm": lambda v: _via_sitk(v, lambda s: (1.0, 1.0, s[2]), lambda s: (0.45, 0.45, 1e-3)),
    "kernel_soft": lambda v: _array_op(v, lambda a: _gauss_inplane(a, 1.0)),
    "kernel_sharp": lambda v: _array_op(v, _unsharp),
    "low_dose": lambda v: _array_op(v, _noise),
    "hu_plus_30": lambda v: _array_op(v, lambda a: a + 30.0),
    "hu_minus_30": lambda v: _array_op(v, lambda a: a - 30.0),
    "field_350mm": _field,
    "coverage_middle_70pct": _coverage,
}


def back_to(labels, variant, original):
    """The variant's labels (array in its own grid) resampled onto the original's grid (nearest neighbour), and
    the mask of original voxels the variant covers."""
    from segthor.preprocessing.grid import ImageGrid, resample

    lab = variant.with_array(labels.astype(np.uint8)).to_sitk()
    out = resample(lab, ImageGrid.of(original.to_sitk()), "nearest", 255)
    arr = _sitk().GetArrayFromImage(out)
    covered = arr != 255
    return np.where(covered, arr, 0), covered


def dice(a: np.ndarray, b: np.ndarray) -> float | None:
    s = int(a.sum()) + int(b.sum())
    return round(2.0 * float((a & b).sum()) / s, 3) if s else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="enet-realct", help="model id or package folder (default enet-realct)")
    parser.add_argument("--variant", action="append", choices=sorted(VARIANTS), help="only these (repeatable)")
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "segthor_real_ct_variants")
    parser.add_argument("--data", type=Path, default=SHARED, help="the shared data folder (default ../shared/data)")
    parser.add_argument("--json", type=Path, help="also write all figures to this JSON file")
    parser.add_argument("--labelled", type=Path, help="score variants of these labelled cases (SegTHOR layout)")
    args = parser.parse_args()
    if args.labelled is not None:
        return score_labelled(args)

    case = real_cases(args.data).get("lidc_idri_0314")
    if case is None:
        print(f"skipped: lidc_idri_0314 not found under {args.data} (only developers' checkouts have ../shared/data)")
        return 0

    import torch

    from segthor.inference.postprocess import PostprocessOptions
    from segthor.inference.prediction import predict
    from segthor.io.volume import read_volume
    from segthor.model_packages import load_model_package
    from segthor.organs import ORGANS
    from segthor.render import write_overlay_png
    from segthor.render.overlay import to_lps_canonical

    args.out.mkdir(parents=True, exist_ok=True)
    package = load_model_package(args.model, "cpu")
    options = PostprocessOptions.parse(None)
    original = read_volume(case)
    names = ["original"] + [n for n in (args.variant or VARIANTS) if n != "original"]
    reference_labels = None
    rows: dict[str, dict] = {}
    header = "variant".ljust(22) + "".join(f"{o.key[:9]:>10s}" for o in ORGANS) + "   checks  failed"
    print(f"{case.name}, model {args.model}, default clean-up; agreement = Dice with the original's labels")
    print(header)
    for name in names:
        volume = VARIANTS[name](original)
        t0 = time.perf_counter()
        labels = predict(volume, package, torch.device("cpu"), postprocess=options).labels.array
        seconds = time.perf_counter() - t0
        hu, spacing = to_lps_canonical(volume.array.astype(np.float32), volume.direction, volume.spacing)
        lab_lps, _ = to_lps_canonical(labels, volume.direction, volume.spacing)
        body = body_interior(np.maximum(hu, -1024.0))
        airway = airway_reference(hu, body, spacing)
        lung = lungs(hu, body, airway, spacing)
        figures = measure(hu, lab_lps, spacing, airway, lung, spine_centre_y(hu, body, spacing))
        passed = checks(figures, bool(airway.above_carina.any()))
        if reference_labels is None:
            reference_labels = labels
        mapped, covered = back_to(labels, volume, original)
        agreement = {
            o.key: dice((mapped == o.label) & covered, (reference_labels == o.label) & covered) for o in ORGANS
        }
        failed = [k for k, ok in passed.items() if not ok]
        print(
            name.ljust(22)
            + "".join(f"{(agreement[o.key] if agreement[o.key] is not None else float('nan')):>10.3f}" for o in ORGANS)
            + f"   {sum(passed.values()):2d}/{len(passed)}  {', '.join(failed) or '-'}  ({seconds:.1f} s)"
        )
        rows[name] = {"agreement": agreement, "checks": passed, "figures": figures, "seconds": round(seconds, 2)}
        write_overlay_png(volume, labels, args.out / f"{name}.png", title=f"lidc_idri_0314 as {name}: {args.model}")
    vols = "  ".join(f"{n}: " + "/".join(f"{rows[n]['figures'][o.key]['volume_ml']:.0f}" for o in ORGANS) for n in rows)
    print(f"\nvolumes ml (esophagus/heart/trachea/aorta): {vols}\nmontages in {args.out}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    return 0


def score_labelled(args: argparse.Namespace) -> int:
    """Dice against ground truth of every variant of every case in `args.labelled` (printed; JSON if asked)."""
    import torch

    from segthor.case_layout import segthor_case_files
    from segthor.inference.postprocess import PostprocessOptions
    from segthor.inference.prediction import predict
    from segthor.io.volume import read_volume
    from segthor.model_packages import load_model_package
    from segthor.organs import ORGANS

    cases = [(d.name, files) for d in sorted(args.labelled.iterdir()) if (files := segthor_case_files(d))]
    if not cases:
        print(f"no labelled case (PATIENT/PATIENT.nii.gz + GT.nii.gz) under {args.labelled}")
        return 2
    package = load_model_package(args.model, "cpu")
    options = PostprocessOptions.parse(None)
    names = ["original"] + [n for n in (args.variant or VARIANTS) if n != "original"]
    scores: dict[str, list[list[float]]] = {n: [] for n in names}
    for case, (image_path, gt_path) in cases:
        original, truth = read_volume(image_path), read_volume(gt_path).array
        for name in names:
            volume = VARIANTS[name](original)
            labels = predict(volume, package, torch.device("cpu"), postprocess=options).labels.array
            mapped, covered = back_to(labels, volume, original)
            row = [dice((mapped == o.label) & covered, (truth == o.label) & covered) for o in ORGANS]
            scores[name].append([float("nan") if d is None else d for d in row])
            print(f"{case} {name:22s}" + "".join(f"{d:8.3f}" for d in scores[name][-1]), flush=True)
    print(f"\n{args.labelled}: {len(cases)} case(s), model {args.model}, default clean-up; mean Dice")
    print("variant".ljust(22) + "".join(f"{o.key[:9]:>10s}" for o in ORGANS) + "      mean   change")
    base = float(np.nanmean(scores["original"]))
    summary = {}
    for name in names:
        per_organ = np.nanmean(np.array(scores[name]), axis=0)
        mean = float(np.nanmean(per_organ))
        summary[name] = {"dice": [round(float(d), 3) for d in per_organ], "mean": round(mean, 3)}
        print(name.ljust(22) + "".join(f"{d:10.3f}" for d in per_organ) + f"{mean:10.3f}{mean - base:+9.3f}")
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
