"""Benchmark: writing and reading DICOM RTSTRUCT and SEG for one 512x512 CT series (default 100 slices).

Organ-sized synthetic labels (heart ellipsoid with a hole on some slices, aorta in two islands, trachea,
esophagus) on a CT series written with pydicom. Side by side in one run:
  segthor   write_rtstruct (pydicom + skimage contours) and write_dicom_seg (highdicom), and reading both back
            onto the CT grid (read_dicom_labels)
  rt-utils  RTStructBuilder.create_new + add_roi x 4 + save (OpenCV contours): the baseline for RTSTRUCT writing,
            and get_roi_mask_by_name x 4 for reading
Prints seconds per step and the ratio segthor / rt-utils.

    python benchmarks/bench_dicom_rt.py [--slices 100] [--repeats 2]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "Logic"), str(ROOT / "Testing" / "dicom_rt")]
SIZE = 512


def organ_labels(slices: int) -> np.ndarray:
    labels = np.zeros((slices, SIZE, SIZE), np.uint8)
    z, y, x = np.ogrid[:slices, :SIZE, :SIZE]
    zc = slices / 2
    heart = ((z - zc) / (slices * 0.3)) ** 2 + ((y - 300) / 60.0) ** 2 + ((x - 280) / 70.0) ** 2 <= 1
    labels[heart] = 2
    labels[heart & (((y - 300) / 15.0) ** 2 + ((x - 280) / 15.0) ** 2 <= 1) & (z % 4 == 0)] = 0  # holes
    labels[((y - 200) ** 2 + (x - 300) ** 2 <= 144) & (z > slices * 0.1)] = 4
    labels[((y - 230) ** 2 + (x - 330) ** 2 <= 100) & (z > slices * 0.1)] = 4  # second island
    labels[((y - 170) ** 2 + (x - 256) ** 2 <= 81) & (z > slices * 0.4)] = 3
    labels[((y - 215) ** 2 + (x - 250) ** 2 <= 25) & (z >= 0)] = 1
    return labels


def timed(fn, repeats: int) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slices", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()

    from dicom_helpers import phantom_ct, write_ct_series

    from segthor.dicom_rt.references import read_dicom_labels
    from segthor.dicom_rt.rtstruct_writer import write_rtstruct
    from segthor.dicom_rt.seg_writer import write_dicom_seg
    from segthor.dicom_rt.series import read_series
    from segthor.io.volume import read_volume
    from segthor.organs import ORGANS

    labels = organ_labels(args.slices)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        ct_dir = tmp / "ct"
        write_ct_series(phantom_ct(labels, spacing=(0.98, 0.98, 2.5)), ct_dir)
        ct = read_volume(ct_dir)
        volume = ct.with_array(labels)
        t_series, series = timed(lambda: read_series(ct_dir), args.repeats)
        t_rt, rt = timed(lambda: write_rtstruct(volume, series, tmp / "rt.dcm", "bench"), args.repeats)
        t_seg, seg = timed(lambda: write_dicom_seg(volume, series, tmp / "seg.dcm", "bench"), args.repeats)
        t_rt_read, rt_back = timed(lambda: read_dicom_labels(rt, ct_dir=ct_dir), args.repeats)
        t_seg_read, seg_back = timed(lambda: read_dicom_labels(seg, ct_dir=ct_dir), args.repeats)
        assert np.array_equal(rt_back.volume.array, labels) and np.array_equal(seg_back.volume.array, labels)
        print(f"series {SIZE}x{SIZE}x{args.slices}, best of {args.repeats}")
        print(f"  segthor read series headers    {t_series:7.2f} s")
        print(f"  segthor write RTSTRUCT          {t_rt:7.2f} s  ({rt.stat().st_size / 1e6:.1f} MB)")
        print(f"  segthor write SEG               {t_seg:7.2f} s  ({seg.stat().st_size / 1e6:.1f} MB)")
        print(f"  segthor read RTSTRUCT to labels {t_rt_read:7.2f} s  (voxel-identical)")
        print(f"  segthor read SEG to labels      {t_seg_read:7.2f} s  (voxel-identical)")
        try:
            from rt_utils import RTStructBuilder
        except ImportError:
            print("  rt-utils not installed: no baseline")
            return

        def rtutils_write() -> Path:
            builder = RTStructBuilder.create_new(dicom_series_path=str(ct_dir))
            for organ in ORGANS:
                mask = np.moveaxis(labels == organ.label, 0, -1)  # rt-utils wants [row, column, slice]
                builder.add_roi(mask=mask, color=list(organ.color_rgb), name=organ.name)
            builder.save(str(tmp / "rtutils.dcm"))
            return tmp / "rtutils.dcm"

        t_base, base = timed(rtutils_write, args.repeats)

        def rtutils_read() -> None:
            rt_in = RTStructBuilder.create_from(str(ct_dir), str(base))
            for organ in ORGANS:
                rt_in.get_roi_mask_by_name(organ.name)

        t_base_read, _ = timed(rtutils_read, args.repeats)
        print(f"  rt-utils write RTSTRUCT         {t_base:7.2f} s  ({base.stat().st_size / 1e6:.1f} MB)")
        print(f"  rt-utils read RTSTRUCT to masks {t_base_read:7.2f} s")
        print(f"  ratio segthor / rt-utils: write {t_rt / t_base:.2f}, read {t_rt_read / t_base_read:.2f}")


if __name__ == "__main__":
    main()
