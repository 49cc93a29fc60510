"""The optional packages DICOM RT needs, checked once with an error that says how to install them."""

from __future__ import annotations

import importlib.util

from segthor.errors import InputError

# import name -> distribution name (what pip installs)
PACKAGES = {"pydicom": "pydicom", "highdicom": "highdicom", "skimage": "scikit-image"}


def require_dicom_packages() -> None:
    """Raise InputError naming the missing packages of the `dicom` extra, if any."""
    missing = [dist for module, dist in PACKAGES.items() if importlib.util.find_spec(module) is None]
    if missing:
        raise InputError(
            f"DICOM RTSTRUCT/SEG support needs {', '.join(missing)}; install them with "
            "pip install 'segthor-slicer[dicom]'"
        )
