"""Writing phantoms in the SegTHOR release's layout.

    OUTDIR/Patient_01/Patient_01.nii.gz   CT, int16 HU
    OUTDIR/Patient_01/GT.nii.gz           labels, uint8 (0 background, 1 esophagus, 2 heart, 3 trachea, 4 aorta)
    OUTDIR/Patient_01/Patient_01.json     how the case was made (all generation parameters)

Files are written atomically and existing case folders are never replaced unless asked. SimpleITK writes the
NIfTI file; Python's gzip compresses it at level 1 with a zero time stamp (SimpleITK's NIfTI writer ignores
the compression level, and its default level takes 3x longer for a 1 % smaller file), so the same seed gives
byte-identical files.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np

from segthor.case_layout import SEGTHOR_GT_FILE
from segthor.errors import InputError, OverwriteRefusedError
from segthor.io.atomic import atomic_path, write_text_atomic
from segthor.io.volume import Volume
from segthor.organs import ORGANS
from segthor.phantom.generator import PhantomCase, generate_case

GENERATORS = ("v1", "v2")
# zlib level 1: 4 % larger than the default level for CT phantoms, 3 times faster to write.
COMPRESSION_LEVEL = 1


def case_id_for(index: int) -> str:
    return f"Patient_{index:02d}"


def case_seed(cohort_seed: int, index: int) -> int:
    """The seed of case `index` in a cohort: independent of how many cases are written, or from which index."""
    return int(np.random.SeedSequence([int(cohort_seed), int(index)]).generate_state(1)[0] & 0x7FFFFFFF)


def _write_nifti(volume: Volume, path: Path) -> None:
    import SimpleITK as sitk

    with atomic_path(path) as tmp:
        raw = tmp.with_name(tmp.name[: -len(".gz")])
        try:
            sitk.WriteImage(volume.to_sitk(), str(raw), False)
            # No file name and mtime 0 in the gzip header: identical bytes on every run.
            with (
                open(raw, "rb") as src,
                open(tmp, "wb") as dst,
                gzip.GzipFile(filename="", mode="wb", fileobj=dst, compresslevel=COMPRESSION_LEVEL, mtime=0) as gz,
            ):
                shutil.copyfileobj(src, gz, 1 << 22)
        finally:
            raw.unlink(missing_ok=True)


def _metadata(case: PhantomCase, case_id: str) -> dict:
    ct = case.ct
    return {
        "case_id": case_id,
        "image": f"{case_id}.nii.gz",
        "labels": SEGTHOR_GT_FILE,
        "label_names": {"0": "background", **{str(o.label): o.key for o in ORGANS}},
        "size_xyz": list(ct.shape_xyz),
        "spacing_mm": [round(s, 6) for s in ct.spacing],
        "origin_lps_mm": [round(o, 6) for o in ct.origin],
        "direction": [round(float(d), 6) for d in ct.direction.flatten()],
        "generator": "segthor.phantom" + (" v2" if case.params.get("generator") == "v2" else ""),
        "parameters": case.params,
    }


def _check_free(case_dir: Path, overwrite: bool) -> None:
    if case_dir.exists() and not case_dir.is_dir():
        raise InputError(f"{case_dir} exists and is not a folder; choose another output folder")
    if case_dir.is_dir() and any(case_dir.iterdir()) and not overwrite:
        raise OverwriteRefusedError(f"{case_dir} already exists and is not empty")


def write_case(
    case: PhantomCase,
    outdir: str | os.PathLike[str],
    case_id: str = "Patient_01",
    overwrite: bool = False,
    preview: bool = False,
) -> Path:
    """Write one case as OUTDIR/CASE_ID/{CASE_ID.nii.gz, GT.nii.gz, CASE_ID.json}; return the case folder."""
    case_dir = Path(outdir) / case_id
    _check_free(case_dir, overwrite)
    case_dir.mkdir(parents=True, exist_ok=True)
    _write_nifti(case.ct, case_dir / f"{case_id}.nii.gz")
    _write_nifti(case.labels, case_dir / SEGTHOR_GT_FILE)
    text = json.dumps(_metadata(case, case_id), indent=2, sort_keys=True) + "\n"
    write_text_atomic(case_dir / f"{case_id}.json", text)
    if preview:
        from segthor.render import write_overlay_png

        title = f"{case_id}: {case.describe()} - synthetic, not for clinical use"
        write_overlay_png(case.ct, case.labels.array, case_dir / f"{case_id}_preview.png", title=title)
    return case_dir


def write_cohort(
    outdir: str | os.PathLike[str],
    cases: int,
    seed: int,
    size: int = 512,
    contrast: bool | None = None,
    preview: bool = False,
    first_index: int = 1,
    n_slices: int | None = None,
    overwrite: bool = False,
    on_case: Callable[[Path, PhantomCase], None] | None = None,
    generator: str = "v1",
    domain_random: bool = False,
) -> list[Path]:
    """Write `cases` phantoms as Patient_{first_index:02d}... under `outdir`; return their folders.

    Case i's seed depends only on (`seed`, i), so Patient_03 is the same file whether written alone or in a
    cohort. Every target folder is checked before anything is written, so a refused run changes nothing.
    `generator` "v1" (procedural shapes) or "v2" (shapes from the HRA reference meshes, `segthor.phantom.v2`);
    `domain_random` (v2 only) draws random tissue intensities and a bias field instead of the phase's HU.
    """
    if generator not in GENERATORS:
        raise InputError(f"generator must be one of {', '.join(GENERATORS)} (got {generator!r})")
    if domain_random and generator != "v2":
        raise InputError("domain randomisation needs generator v2 (--generator v2)")
    if cases < 1:
        raise InputError(f"cases must be at least 1 (got {cases})")
    if first_index < 0:
        raise InputError(f"first_index must be non-negative (got {first_index})")
    if seed < 0:  # numpy's seed sequence would raise a bare ValueError
        raise InputError(f"seed must be a non-negative integer (got {seed})")
    out = Path(outdir)
    if out.exists() and not out.is_dir():
        raise InputError(f"{out} exists and is not a folder; give a folder for the phantoms")
    indices = range(first_index, first_index + cases)
    for i in indices:
        _check_free(out / case_id_for(i), overwrite)
    written = []
    for i in indices:
        if generator == "v2":
            from segthor.phantom.v2 import generate_case_v2

            case = generate_case_v2(
                case_seed(seed, i), size=size, n_slices=n_slices, contrast=contrast, domain_random=domain_random
            )
        else:
            case = generate_case(case_seed(seed, i), size=size, n_slices=n_slices, contrast=contrast)
        case.params["cohort_seed"] = int(seed)
        case.params["case_index"] = int(i)
        path = write_case(case, out, case_id_for(i), overwrite=overwrite, preview=preview)
        written.append(path)
        if on_case is not None:
            on_case(path, case)
    return written
