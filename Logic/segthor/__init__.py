"""SegTHOR thoracic organ-at-risk segmentation: the Qt-free logic of the SegTHORSlicer extension.

This package runs inside 3D Slicer and in a plain Python environment alike. It never imports Qt, and it
imports heavy dependencies (torch, slicer) only inside the functions that need them, so `import segthor`
stays cheap.
"""

from segthor._version import __version__
from segthor.errors import SegthorError
from segthor.organs import ORGANS, Organ, organ_by_label, organ_by_name

__all__ = ["ORGANS", "Organ", "SegthorError", "__version__", "organ_by_label", "organ_by_name"]
