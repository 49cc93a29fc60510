"""Running a model package over a CT: input checks, memory estimate, batched inference, post-processing."""

from segthor.inference.checks import check_ct_volume
from segthor.inference.memory import MemoryEstimateError, available_bytes, require_memory
from segthor.inference.postprocess import PostprocessOptions, postprocess_labels
from segthor.inference.prediction import Prediction, predict, run_network
from segthor.inference.progress import CancelToken, Progress, ProgressCallback, StageTimer

__all__ = [
    "CancelToken",
    "MemoryEstimateError",
    "PostprocessOptions",
    "Prediction",
    "Progress",
    "ProgressCallback",
    "StageTimer",
    "available_bytes",
    "check_ct_volume",
    "postprocess_labels",
    "predict",
    "require_memory",
    "run_network",
]
