"""The orchestration layer's façade: segment a CT (volume, file or volume node) and compare segmentations.

`SegmentationLogic` is what every front door calls: headless Slicer scripts, the CLI, the Python API, and
the Slicer widget through `segthor.runner` (a child process runs `segment()`, the widget commits the labels it
hands back on the main thread). It reports progress as (fraction, message), can be cancelled from another
thread, and raises `SegthorError` subclasses with a message that says what to do.

One job per module:

    facade.py        SegmentationLogic: the model (loaded once), segment() (prediction + plausibility),
                     progress and cancel; its file, node and compare methods hand over to the modules below
    file_case.py     a CT file or DICOM folder -> output files and the case JSON (`segment_file`)
    node_case.py     a volume node -> organ segments committed into the Slicer scene (`segment_node`)
    case_report.py   the case JSON, built by one pure function (`build_case_report`)

Reading a reference onto the CT's grid is `segthor.metrics.reference_image` (re-exported here).
"""

from segthor.logic.case_report import build_case_report, organ_volumes_ml
from segthor.logic.facade import SegmentationLogic
from segthor.logic.file_case import CaseResult
from segthor.logic.node_case import NodeResult
from segthor.metrics.reference_image import read_reference, read_reference_image

__all__ = [
    "CaseResult",
    "NodeResult",
    "SegmentationLogic",
    "build_case_report",
    "organ_volumes_ml",
    "read_reference",
    "read_reference_image",
]
