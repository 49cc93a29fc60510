"""A gantry-tilted file stored as a shear (voxel axes not perpendicular) is refused in one line, in every format
that would otherwise move the outputs off the CT; an oblique but orthogonal grid is read as it is.

Found by a new-user test on NRRD: the labels NIfTI of `segthor segment` lay 22-59 mm off the CT at the far
slices. What SimpleITK does with each format (asserted below, so a change in ITK shows here): NRRD and
MetaImage keep the shear on reading and ITK's NIfTI writer replaces it by an orthogonal direction; a NIfTI's
sheared sform is never used: ITK falls back to the qform (segthor's sform/qform warning then says so, and the
labels NIfTI keeps both transforms, so it overlays the CT) or, with no qform, stops with an ITK message.
"""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest
import SimpleITK as sitk

from segthor.cli.main import main
from segthor.errors import InputError
from segthor.io.shear import shear_deg
from segthor.io.volume import read_volume, write_volume

AIR = np.full((6, 8, 8), -1000, np.int16)  # [z, y, x]
# A 16.7 deg tilt as a shear: the slice axis leans 1.07 mm along y per 3.56 mm along z (LPS, row = one axis).
SHEARED_AXES = np.array([[2, 0, 0], [0, 2, 0], [0, 1.07, 3.56]])
# Oblique but orthogonal: the y and z axes rotated by 15 deg about x.
ROTATED_AXES = np.array([[2, 0, 0], [0, 1.9319, 0.5176], [0, -0.7765, 2.8978]])


def _nrrd(path, directions: str) -> None:
    header = (
        "NRRD0004\ntype: int16\ndimension: 3\nspace: left-posterior-superior\nsizes: 8 8 6\n"
        f"space directions: {directions}\nkinds: domain domain domain\nendian: little\nencoding: raw\n"
        "space origin: (0,0,0)\n\n"
    )
    path.write_bytes(header.encode() + AIR.tobytes())


def _metaimage(path, axes: np.ndarray, key: str = "TransformMatrix") -> None:
    """An .mha (voxels after the header) or .mhd (voxels in a .raw beside it); `axes` one unit axis per row."""
    unit = axes / np.linalg.norm(axes, axis=1)[:, None]
    spacing = " ".join(str(s) for s in np.linalg.norm(axes, axis=1))
    header = (
        "ObjectType = Image\nNDims = 3\nBinaryData = True\nBinaryDataByteOrderMSB = False\n"
        f"{key} = {' '.join(f'{v:.6f}' for v in unit.flatten())}\nOffset = 0 0 0\n"
        f"ElementSpacing = {spacing}\nDimSize = 8 8 6\nElementType = MET_SHORT\n"
    )
    if path.suffix == ".mha":
        path.write_bytes((header + "ElementDataFile = LOCAL\n").encode() + AIR.tobytes())
    else:
        path.with_suffix(".raw").write_bytes(AIR.tobytes())
        path.write_text(header + f"ElementDataFile = {path.with_suffix('.raw').name}\n")


def _nifti(path, axes_lps: np.ndarray, qform: bool) -> np.ndarray:
    """A NIfTI whose sform (code 1) has the given LPS axes, with the qform nibabel fits to it (code 1) or none;
    returns the sform (RAS, as stored)."""
    sform = np.eye(4)
    sform[:3, :3] = np.diag([-1.0, -1.0, 1.0]) @ axes_lps.T  # columns = axes, LPS -> RAS
    image = nib.Nifti1Image(np.ascontiguousarray(AIR.transpose(2, 1, 0)), None)
    image.header.set_zooms(tuple(np.linalg.norm(axes_lps, axis=1)))  # pixdim: ITK takes the spacing from it
    image.header.set_sform(sform, code=1)
    image.header.set_qform(sform if qform else None, code=1 if qform else 0)
    nib.save(image, str(path))
    return sform


def _refused_by_cli(path, tmp_path, capsys) -> str:
    assert main(["segment", str(path), "-o", str(tmp_path / "out"), "-q"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not orthogonal" in err[0] and "resample it onto an orthogonal grid" in err[0]
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
    return err[0]


def test_shear_angle():
    assert shear_deg(SHEARED_AXES) == pytest.approx(16.73, abs=0.01)
    assert shear_deg(ROTATED_AXES) < 0.01  # the 4-digit values above


def test_sheared_nrrd_is_refused_and_an_orthogonal_one_read(tmp_path, capsys):
    sheared = tmp_path / "tilted.nrrd"
    _nrrd(sheared, "(2,0,0) (0,2,0) (0,1.07,3.56)")
    with pytest.raises(InputError, match=r"space directions are not orthogonal \(axes 16\.7 deg"):
        read_volume(sheared)
    _refused_by_cli(sheared, tmp_path, capsys)
    rotated = tmp_path / "rotated.nrrd"  # orthogonal but oblique: read as it is
    _nrrd(rotated, "(2,0,0) (0,1.9319,0.5176) (0,-0.7765,2.8978)")
    volume = read_volume(rotated)
    assert volume.array.shape == (6, 8, 8)
    assert np.allclose(volume.direction * volume.spacing, ROTATED_AXES.T, atol=1e-3)


@pytest.mark.parametrize("name, key", [("tilted.mha", "TransformMatrix"), ("tilted.mhd", "Orientation")])
def test_sheared_metaimage_is_refused(tmp_path, capsys, name, key):
    sheared = tmp_path / name
    _metaimage(sheared, SHEARED_AXES, key)
    # Why: ITK reads the shear as it is, but writes the labels NIfTI with an orthogonal direction instead.
    image = sitk.ReadImage(str(sheared))
    assert shear_deg(np.reshape(image.GetDirection(), (3, 3)).T) == pytest.approx(16.7, abs=0.1)
    sitk.WriteImage(image, str(tmp_path / "written.nii.gz"))
    assert shear_deg(np.reshape(sitk.ReadImage(str(tmp_path / "written.nii.gz")).GetDirection(), (3, 3)).T) < 0.01
    with pytest.raises(InputError, match=r"TransformMatrix is not orthogonal \(axes 16\.7 deg"):
        read_volume(sheared)
    _refused_by_cli(sheared, tmp_path, capsys)


@pytest.mark.parametrize("name", ["rotated.mha", "rotated.mhd"])
def test_oblique_orthogonal_metaimage_is_read(tmp_path, name):
    path = tmp_path / name
    _metaimage(path, ROTATED_AXES)
    volume = read_volume(path)
    assert volume.warnings == []
    assert np.allclose(volume.direction * volume.spacing, ROTATED_AXES.T, atol=1e-3)


def test_sheared_nifti_sform_without_qform_is_refused(tmp_path, capsys):
    sheared = tmp_path / "tilted.nii.gz"
    _nifti(sheared, SHEARED_AXES, qform=False)
    with pytest.raises(RuntimeError, match="orthonormal"):  # ITK alone: an ITK message, not what to do
        sitk.ReadImage(str(sheared))
    with pytest.raises(InputError, match=r"sform \(with no qform set\) is not orthogonal \(axes 16\.7 deg"):
        read_volume(sheared)
    assert "nibabel.processing.resample_to_output" in _refused_by_cli(sheared, tmp_path, capsys)


def test_slightly_sheared_nifti_sform_that_itk_refuses_gets_the_same_line(tmp_path):
    """Sheared less than segthor's tolerance (0.06 deg) but more than ITK's: ITK's refusal, said segthor's way."""
    slight = tmp_path / "slight.nii"
    _nifti(slight, np.array([[2, 0, 0], [0, 2, 0], [0, 0.0009, 3]]), qform=False)
    with pytest.raises(InputError, match=r"sform \(with no qform set\) is not orthogonal \(axes 0.017 deg"):
        read_volume(slight)


def test_sheared_nifti_sform_with_a_qform_is_read_on_the_qform_with_a_warning(tmp_path):
    path = tmp_path / "tilted.nii.gz"
    sform = _nifti(path, SHEARED_AXES, qform=True)
    volume = read_volume(path)
    assert shear_deg(volume.direction.T) < 1e-3  # ITK's reading: the qform, orthogonal
    (warning,) = volume.warnings
    assert "the sform is not orthogonal (axes 16.7 deg off square" in warning and "used the qform" in warning
    # The labels NIfTI keeps the input's own sform and qform: on the CT in sform-first and qform tools alike.
    write_volume(volume.with_array(np.zeros(AIR.shape, np.uint8)), tmp_path / "labels.nii.gz")
    header = nib.load(str(tmp_path / "labels.nii.gz")).header
    assert np.allclose(header.get_sform(), sform, atol=1e-4) and int(header["qform_code"]) == 1


def test_oblique_orthogonal_nifti_is_read_without_warning(tmp_path):
    path = tmp_path / "rotated.nii.gz"
    _nifti(path, ROTATED_AXES, qform=False)
    volume = read_volume(path)
    assert volume.warnings == []
    assert np.allclose(volume.direction * volume.spacing, ROTATED_AXES.T, atol=1e-3)
