"""Evaluation metrics for organ segmentations: Dice, Dice 2D, HD, HD95, ASSD, AHD and volumes.

Definitions (see docs/metrics.md and each function's docstring):

- surface of a mask: its voxels with a 6-connected neighbour outside the mask (image border = outside);
- distances: Euclidean between voxel centres in mm, with the (anisotropic) image spacing;
- HD95 ``pooled`` (default, as medpy and the seed papers) or ``max-directed`` (as MONAI); every result
  carries the convention it used;
- ASSD: pooled mean of both directed distance sets; AHD: max of the two directed means (SegTHOR paper);
- empty masks give a defined result and a ``status`` (``segthor.metrics.result``).
"""

from segthor.metrics.binary import binary_metrics
from segthor.metrics.cohort import CohortEvaluation, evaluate_paths, summarize
from segthor.metrics.compare import compare_cohorts
from segthor.metrics.evaluation import EvaluationReport, evaluate
from segthor.metrics.label_files import read_label_volume
from segthor.metrics.labels import evaluate_labels, evaluate_volumes
from segthor.metrics.result import HD95_CONVENTIONS, METRIC_NAMES, STATUSES, OrganMetrics

__all__ = [
    "HD95_CONVENTIONS",
    "METRIC_NAMES",
    "STATUSES",
    "CohortEvaluation",
    "EvaluationReport",
    "OrganMetrics",
    "binary_metrics",
    "compare_cohorts",
    "evaluate",
    "evaluate_labels",
    "evaluate_paths",
    "evaluate_volumes",
    "read_label_volume",
    "summarize",
]
