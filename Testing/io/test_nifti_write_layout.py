"""The labels NIfTI is written from the [z, y, x] array's own memory (a transposed view, no copy): the file is
byte for byte the one written from a C-contiguous copy of the transposed array, as before."""

from __future__ import annotations

import gzip

import nibabel as nib
import numpy as np
import pytest

from segthor.io.nifti_header import NiftiTransforms, write_nifti


def _write_from_copy(array_zyx: np.ndarray, transforms: NiftiTransforms, path) -> None:
    """The writer as it was: a C-contiguous copy of the [x, y, z] array handed to nibabel."""
    image = nib.Nifti1Image(np.ascontiguousarray(array_zyx.transpose(2, 1, 0)), None)
    image.header.set_sform(transforms.sform, code=transforms.sform_code)
    image.header.set_qform(transforms.qform, code=transforms.qform_code)
    image.header.set_xyzt_units(xyz=transforms.xyz_unit or "mm")
    image.header.set_data_dtype(array_zyx.dtype)
    nib.save(image, str(path))


def _transforms() -> NiftiTransforms:
    qform = np.array([[-0.8, 0, 0, 10.0], [0, -0.9, 0, 20.0], [0, 0, 2.5, -30.0], [0, 0, 0, 1]])
    sform = qform.copy()
    sform[0, 3] += 40.0
    return NiftiTransforms(sform=sform, sform_code=1, qform=qform, qform_code=2)


@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.float32])
@pytest.mark.parametrize("shape", [(7, 9, 11), (1, 5, 6), (4, 1, 3)])
@pytest.mark.parametrize("suffix", [".nii.gz", ".nii"])
def test_written_bytes_match_the_copying_writer(tmp_path, dtype, shape, suffix):
    rng = np.random.default_rng(5)
    array = rng.integers(0, 5, size=shape).astype(dtype)
    write_nifti(array, _transforms(), tmp_path / f"new{suffix}")
    _write_from_copy(array, _transforms(), tmp_path / f"old{suffix}")
    read = gzip.open if suffix.endswith(".gz") else open
    with read(tmp_path / f"new{suffix}", "rb") as new, read(tmp_path / f"old{suffix}", "rb") as old:
        assert new.read() == old.read()
    np.testing.assert_array_equal(np.asanyarray(nib.load(str(tmp_path / f"new{suffix}")).dataobj), array.T)


def test_a_non_contiguous_array_is_written_by_its_values(tmp_path):
    array = np.arange(6 * 8 * 10, dtype=np.uint8).reshape(6, 8, 10)[:, ::-1, 1:9]
    write_nifti(array, _transforms(), tmp_path / "new.nii")
    _write_from_copy(array, _transforms(), tmp_path / "old.nii")
    assert (tmp_path / "new.nii").read_bytes() == (tmp_path / "old.nii").read_bytes()
