"""Input checks: non-CT, 2D, empty, RGB and NaN inputs fail early with a message that says what to do."""

import numpy as np
import pytest
from segmentation_helpers import make_ct

from segthor.errors import InputError
from segthor.inference.checks import check_ct_volume
from segthor.io.volume import Volume, read_volume


def test_a_ct_passes():
    check_ct_volume(make_ct())


@pytest.mark.parametrize(
    ("array", "expected"),
    [
        (np.random.default_rng(0).integers(0, 1200, (6, 20, 20)).astype(np.int16), "Hounsfield"),  # MR-like
        (np.full((6, 20, 20), -1000, np.int16), "empty"),
        (np.zeros((1, 20, 20), np.int16), "2D"),
        (np.zeros((0, 20, 20), np.int16), "empty"),
        (np.full((6, 20, 20), np.nan, np.float32), "NaN"),
        (np.full((6, 20, 20), 1e6, np.float32) * np.linspace(-1, 1, 20), "outside CT"),
    ],
)
def test_bad_inputs_are_refused(array, expected):
    with pytest.raises(InputError, match=expected):
        check_ct_volume(Volume(array))


def test_rgb_file_is_refused(tmp_path):
    import SimpleITK as sitk

    rgb = sitk.Image([8, 8, 4], sitk.sitkVectorUInt8, 3)
    path = tmp_path / "photo.nrrd"
    sitk.WriteImage(rgb, str(path))
    with pytest.raises(InputError, match="RGB"):
        read_volume(path)
