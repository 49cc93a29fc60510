"""Phantoms shared by the phantom tests: small grids keep the whole area under a minute on 2 CPU cores."""

from __future__ import annotations

import pytest

from segthor.phantom.generator import generate_anatomy, generate_case
from segthor.phantom.params import draw_params


@pytest.fixture(scope="package")
def anatomy_plain():
    """A non-contrast case at 192 px (about 3 mm voxels): its noiseless tissue map, organ masks and CT."""
    p = draw_params(11, size=192, contrast=False)
    return p, generate_anatomy(p), generate_case(11, size=192, contrast=False)


@pytest.fixture(scope="package")
def anatomy_contrast():
    p = draw_params(12, size=192, contrast=True)
    return p, generate_anatomy(p), generate_case(12, size=192, contrast=True)
