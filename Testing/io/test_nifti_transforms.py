"""NIfTI inputs whose sform and qform disagree: labels keep the input's own transforms and codes, with a warning."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest

from segthor.io.volume import read_volume, write_volume


def _write_ct(path, sform_shift_mm=40.0, sform_code=2, qform_code=1):
    data = np.full((16, 14, 8), -1000, np.int16)  # storage order x, y, z
    data[4:12, 3:11, 2:6] = 40
    qform = np.array([[-0.8, 0, 0, 10.0], [0, -0.9, 0, 20.0], [0, 0, 2.5, -30.0], [0, 0, 0, 1]])
    sform = qform.copy()
    sform[0, 3] += sform_shift_mm
    image = nib.Nifti1Image(data, None)
    image.header.set_qform(qform, code=qform_code)
    image.header.set_sform(sform, code=sform_code)
    nib.save(image, str(path))
    return qform, sform


@pytest.mark.parametrize("sform_code, used", [(2, "qform"), (1, "sform")])
def test_labels_keep_the_inputs_sform_and_qform_and_the_disagreement_is_reported(tmp_path, sform_code, used):
    qform, sform = _write_ct(tmp_path / "ct.nii.gz", sform_code=sform_code)
    ct = read_volume(tmp_path / "ct.nii.gz")
    # ITK (so Slicer) picks by the codes; segthor works on that grid and says which it used, and by how much
    np.testing.assert_allclose(ct.ijk_to_ras(), qform if used == "qform" else sform, atol=1e-4)
    assert len(ct.warnings) == 1
    assert "disagree by up to 40.0 mm" in ct.warnings[0] and f"used the {used}" in ct.warnings[0]

    labels = ct.with_array((ct.array > 0).astype(np.uint8))
    write_volume(labels, tmp_path / "labels.nii.gz")
    written = nib.load(str(tmp_path / "labels.nii.gz"))
    s, s_code = written.header.get_sform(coded=True)
    q, q_code = written.header.get_qform(coded=True)
    np.testing.assert_allclose(s, sform, atol=1e-5)
    np.testing.assert_allclose(q, qform, atol=1e-5)
    assert (int(s_code), int(q_code)) == (sform_code, 1)
    # the voxels are in the input's storage order: sform-first tools put every label on its CT voxel
    np.testing.assert_array_equal(
        np.asarray(written.dataobj), (np.asarray(nib.load(str(tmp_path / "ct.nii.gz")).dataobj) > 0).astype(np.uint8)
    )
    back = read_volume(tmp_path / "labels.nii.gz")
    assert back.same_geometry(ct)


def test_agreeing_transforms_give_no_warning_and_a_resampled_grid_drops_the_header(tmp_path):
    _write_ct(tmp_path / "ct.nii", sform_shift_mm=0.0)
    ct = read_volume(tmp_path / "ct.nii")
    assert ct.warnings == [] and ct.nifti is not None
    from segthor.io.volume import Volume

    other = Volume(ct.array, (1.0, 1.0, 1.0), ct.origin, ct.direction, nifti=ct.nifti)  # another grid
    write_volume(other, tmp_path / "other.nii.gz")
    assert read_volume(tmp_path / "other.nii.gz").same_geometry(other)


@pytest.mark.parametrize("suffix", [".nii.gz", ".nii"])
def test_a_truncated_nifti_is_refused_not_zero_filled(tmp_path, suffix):
    # ITK read a NIfTI cut short (a copy or download interrupted) with the missing voxels as zeros.

    from segthor.errors import InputError

    data = (np.arange(20 * 32 * 32) % 2000 - 1000).astype(np.int16).reshape(32, 32, 20)
    whole = tmp_path / f"whole{suffix}"
    nib.save(nib.Nifti1Image(data, np.eye(4)), whole)
    np.testing.assert_array_equal(read_volume(whole).array.transpose(2, 1, 0), data)
    for keep in (0.6, 0.05):
        cut = tmp_path / f"cut{suffix}"
        cut.write_bytes(whole.read_bytes()[: int(whole.stat().st_size * keep)])
        with pytest.raises(InputError, match=r"is incomplete: \d+ bytes of its voxel data are missing"):
            read_volume(cut)


def test_complete_niftis_with_scaling_or_extensions_are_not_called_incomplete(tmp_path):

    data = (np.arange(8 * 16 * 16) % 2000 - 1000).astype(np.int16).reshape(16, 16, 8)
    scaled = nib.Nifti1Image(data, np.eye(4))
    scaled.header.set_slope_inter(0.5, -10)  # ITK returns float32: twice the stored bytes
    nib.save(scaled, tmp_path / "scaled.nii.gz")
    assert read_volume(tmp_path / "scaled.nii.gz").array.dtype == np.float32
    extended = nib.Nifti1Image(data, np.eye(4))
    extended.header.extensions.append(nib.nifti1.Nifti1Extension("comment", b"a comment" * 20))
    nib.save(extended, tmp_path / "ext.nii")
    assert read_volume(tmp_path / "ext.nii").array.shape == (8, 16, 16)
