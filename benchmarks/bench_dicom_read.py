"""Benchmark: read a 512x512x300 DICOM CT series folder (one file per slice).

Side by side in one run, on the same files:
  baseline  SimpleITK's ImageSeriesReader as segthor used it before (GDCM sorts the files, geometry on trust)
  regular   `read_volume`: pydicom headers, geometry from the slices, GDCM pixels (no resampling needed)
  gap       the same series with one slice removed: regularised by linear interpolation
  tilt      the same pixels with positions sheared 0.5 mm per slice (gantry tilt): shifted and regularised

    python benchmarks/bench_dicom_read.py [--size 512] [--slices 300] [--repeat 2]
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np


def write_series(folder: Path, size: int, slices: int, shear_mm: float = 0.0) -> None:
    import pydicom
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    body = rng.integers(0, 1500, size=(size, size), dtype=np.int16).tobytes()
    series, study = generate_uid(), generate_uid()
    for k in range(slices):
        ds = Dataset()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID = generate_uid()
        ds.Modality, ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SeriesNumber = "CT", study, series, 1
        ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
        ds.InstanceNumber = k + 1
        ds.ImagePositionPatient = [-250.0, -250.0 + shear_mm * k, -400.0 + 1.25 * k]
        ds.ImageOrientationPatient = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
        ds.PixelSpacing = [0.9765625, 0.9765625]
        ds.Rows = ds.Columns = size
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
        ds.RescaleIntercept, ds.RescaleSlope = -1024, 1
        ds.PixelData = body
        pydicom.dcmwrite(folder / f"IM{k:04d}.dcm", ds, enforce_file_format=True)


def best_of(repeat: int, fn) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return min(times), result


def itk_read(folder: Path):
    import SimpleITK as sitk

    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(folder)))
    return sitk.GetArrayFromImage(reader.Execute())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--slices", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()

    from segthor.io.volume import read_volume

    root = Path(tempfile.mkdtemp(prefix="segthor-bench-dicom-"))
    try:
        t0 = time.perf_counter()
        write_series(root / "regular", args.size, args.slices)
        write_series(root / "tilt", args.size, args.slices, shear_mm=0.5)
        (root / "gap").mkdir()
        for f in sorted((root / "regular").iterdir()):
            if f.name != f"IM{args.slices // 2:04d}.dcm":
                os.link(f, root / "gap" / f.name)
        print(f"wrote 2 series of {args.size}x{args.size}x{args.slices} in {time.perf_counter() - t0:.1f} s")

        itk_read(root / "tilt")  # untimed: the files of both series in the page cache before any timing
        baseline, _ = best_of(args.repeat, lambda: itk_read(root / "regular"))
        print(f"baseline  SimpleITK ImageSeriesReader      {baseline:6.2f} s")
        for name in ("regular", "gap", "tilt"):
            seconds, volume = best_of(args.repeat, lambda name=name: read_volume(root / name))
            note = f"; {volume.warnings[0][:70]}..." if volume.warnings else ""
            print(
                f"{name:9s} read_volume {volume.array.shape}  {seconds:6.2f} s  "
                f"x{seconds / baseline:.2f} of baseline{note}"
            )
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
