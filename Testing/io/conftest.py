"""Input readers: synthetic DICOM (classic and enhanced) and NIfTI files written by the tests themselves."""

from __future__ import annotations

import sys
from pathlib import Path

# Test modules import the factory by name (import mode is importlib, so add this folder explicitly).
sys.path.insert(0, str(Path(__file__).parent))
