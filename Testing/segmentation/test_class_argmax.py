"""One class argmax for the inferers and restore_probabilities: numpy's argmax indices (ties to the lowest
class), as uint8, on numpy arrays and torch tensors alike."""

from __future__ import annotations

import numpy as np
import torch

from segthor.class_argmax import class_argmax
from segthor.inference.inferers import argmax_labels


def test_class_argmax_is_numpys_argmax_on_arrays_and_tensors():
    rng = np.random.default_rng(0)
    # Scores on a coarse grid of values, so many voxels tie between classes.
    scores = rng.integers(0, 3, size=(2, 5, 3, 4, 6)).astype(np.float32)
    expected = scores.argmax(axis=1).astype(np.uint8)
    labels = argmax_labels(torch.from_numpy(scores))
    assert labels.dtype == torch.uint8 and np.array_equal(labels.numpy(), expected)
    probabilities = np.asarray(scores[0], dtype=np.float16)[:, ::-1]  # [C, z, y, x], not contiguous
    restored = class_argmax(probabilities, dim=0)
    assert restored.dtype == np.uint8 and np.array_equal(restored, probabilities.argmax(axis=0))
