"""A gantry-tilted NRRD stored as a shear (non-orthogonal space directions) is refused in one line.

Found by a new-user test: ITK replaced the sheared directions by orthogonal ones without an error, so the labels
NIfTI of `segthor segment` lay 22-59 mm off the CT at the far slices.
"""

from __future__ import annotations

import numpy as np
import pytest

from segthor.cli.main import main
from segthor.errors import InputError
from segthor.io.volume import read_volume


def _nrrd(path, directions: str) -> None:
    a = np.full((6, 8, 8), -1000, np.int16)
    header = (
        "NRRD0004\ntype: int16\ndimension: 3\nspace: left-posterior-superior\nsizes: 8 8 6\n"
        f"space directions: {directions}\nkinds: domain domain domain\nendian: little\nencoding: raw\n"
        "space origin: (0,0,0)\n\n"
    )
    path.write_bytes(header.encode() + a.tobytes())


def test_sheared_nrrd_is_refused_and_an_orthogonal_one_read(tmp_path, capsys):
    sheared = tmp_path / "tilted.nrrd"
    _nrrd(sheared, "(2,0,0) (0,2,0) (0,1.07,3.56)")  # 16.7 deg tilt as a shear
    with pytest.raises(InputError, match=r"not orthogonal \(axes 16\.\d deg"):
        read_volume(sheared)
    assert main(["segment", str(sheared), "-o", str(tmp_path / "out"), "-q"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not orthogonal" in err[0]
    assert not (tmp_path / "out" / "tilted_labels.nii.gz").exists()
    rotated = tmp_path / "rotated.nrrd"  # orthogonal but oblique: read as it is
    _nrrd(rotated, "(2,0,0) (0,1.9319,0.5176) (0,-0.7765,2.8978)")
    volume = read_volume(rotated)
    assert volume.array.shape == (6, 8, 8)
