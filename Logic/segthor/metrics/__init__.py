"""Evaluation metrics for organ segmentations: Dice, Dice 2D, HD, HD95, ASSD, AHD, NSD and volumes.

The list of metrics and their conventions is ``segthor.metrics.registry``.

Definitions (see docs/metrics.md and each function's docstring):

- surface of a mask: its voxels with a 6-connected neighbour outside the mask (image border = outside);
- distances: Euclidean between voxel centres in mm, with the (anisotropic) image spacing;
- HD95 ``pooled`` (default, as medpy and the seed papers) or ``max-directed`` (as MONAI); every result
  carries the convention it used;
- ASSD: pooled mean of both directed distance sets; AHD: max of the two directed means (SegTHOR paper);
- empty masks give a defined result and a ``status`` (``segthor.metrics.result``).
"""

from __future__ import annotations

import importlib
from typing import Any

# Names re-exported here, imported on first use (PEP 562) so that `import segthor.metrics.registry` or
# `segthor evaluate --help` does not load scipy, SimpleITK and every metrics module.
_EXPORTS = {
    "HD95_CONVENTIONS": "segthor.metrics.result",
    "METRIC_NAMES": "segthor.metrics.registry",
    "STATUSES": "segthor.metrics.result",
    "CohortEvaluation": "segthor.metrics.cohort",
    "EvaluationReport": "segthor.metrics.evaluation",
    "OrganMetrics": "segthor.metrics.result",
    "binary_metrics": "segthor.metrics.binary",
    "compare_cohorts": "segthor.metrics.wilcoxon",
    "evaluate": "segthor.metrics.evaluation",
    "evaluate_labels": "segthor.metrics.labels",
    "evaluate_paths": "segthor.metrics.cohort",
    "evaluate_volumes": "segthor.metrics.labels",
    "read_label_volume": "segthor.metrics.label_files",
    "summarize": "segthor.metrics.cohort",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'segthor.metrics' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
