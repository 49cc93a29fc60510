"""The PNG montage: written, non-trivial, in the organ table's colours, orientation-independent."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from segthor.io.volume import Volume
from segthor.organs import ORGANS
from segthor.phantom import sample_case
from segthor.render import write_overlay_png
from segthor.render.overlay import to_lps_canonical


@pytest.fixture(scope="module")
def case():
    return sample_case()


def test_png_shows_three_views_with_organ_colours(case, tmp_path):
    path = write_overlay_png(case.ct, case.labels.array, tmp_path / "preview.png", title="sample")
    img = np.asarray(Image.open(path).convert("RGB"))
    assert img.shape[1] > 600 and img.shape[0] > 300
    assert len(np.unique(img.reshape(-1, 3), axis=0)) > 200  # a picture, not a blank canvas
    colours = {tuple(c) for c in img.reshape(-1, 3)}
    for organ in ORGANS:  # outlines and the legend use the exact table colours
        assert organ.color_rgb in colours, organ.name
    assert not list(tmp_path.glob(".*"))  # no temporary file left behind


def test_views_keep_the_physical_aspect_ratio(case, tmp_path):
    # Thick slices (10 mm) must make the coronal view taller than a 1:1 voxel rendering would.
    path = write_overlay_png(case.ct, case.labels.array, tmp_path / "p.png")
    height = Image.open(path).height
    depth_mm = case.ct.array.shape[0] * case.ct.spacing[2]
    rows_mm = case.ct.array.shape[1] * case.ct.spacing[1]
    assert height > 360 * depth_mm / rows_mm  # the coronal panel alone is this tall


def test_flipped_and_permuted_volumes_give_the_same_picture(case, tmp_path):
    a = write_overlay_png(case.ct, case.labels.array, tmp_path / "a.png")
    # The same image stored with the x axis reversed (direction -x) and z/y swapped is the same anatomy.
    arr = np.flip(case.ct.array, axis=2)
    lab = np.flip(case.labels.array, axis=2)
    direction = np.diag([-1.0, 1.0, 1.0])
    flipped = Volume(arr, case.ct.spacing, case.ct.origin, direction)
    b = write_overlay_png(flipped, lab, tmp_path / "b.png")
    np.testing.assert_array_equal(np.asarray(Image.open(a)), np.asarray(Image.open(b)))
    canon, spacing = to_lps_canonical(
        np.transpose(case.ct.array, (1, 0, 2)),
        np.array([[1.0, 0, 0], [0, 0, 1.0], [0, 1.0, 0]]),
        (case.ct.spacing[0], case.ct.spacing[2], case.ct.spacing[1]),
    )
    np.testing.assert_array_equal(canon, case.ct.array)
    assert spacing == pytest.approx(case.ct.spacing)


def test_mismatched_labels_are_refused(case, tmp_path):
    with pytest.raises(ValueError, match="shape"):
        write_overlay_png(case.ct, case.labels.array[:-1], tmp_path / "x.png")
