"""Case naming: the case name a CT file or DICOM folder stands for.

A leaf module (it imports only ``segthor.io``), so that the single-case logic and the batch runner share one
rule without the batch runner importing the orchestration layer.
"""

from __future__ import annotations

import os
from pathlib import Path

from segthor.io.volume import FILE_SUFFIXES


def case_name_for(path: str | os.PathLike[str]) -> str:
    """'Patient_01' for Patient_01.nii.gz, Patient_01.seg.nrrd, or a DICOM folder named Patient_01.

    A folder given as '.', './' or '..' is named by what it resolves to (not '', which would give hidden
    outputs '.json', '.seg.nrrd')."""
    name = Path(path).name
    if name in ("", ".", ".."):
        name = Path(path).resolve().name
    lower = name.lower()
    for suffix in sorted(FILE_SUFFIXES, key=len, reverse=True):
        if lower.endswith(suffix):
            return name[: -len(suffix)]
    return name
