"""`segthor segment --reference` with a Slicer reference whose segments need the user's map."""

from __future__ import annotations

import json

import numpy as np
import pytest
from segmentation_helpers import heart_truth, make_ct

from segthor.cli.main import main
from segthor.io.volume import write_volume


def test_segment_reference_with_map_and_unused_segments(tmp_path, tiny_model_dir, capsys):
    slicerio = pytest.importorskip("slicerio")
    ct = make_ct(shape=(6, 30, 30), direction=np.eye(3))
    ct_path = write_volume(ct, tmp_path / "chest.nii.gz")
    seg = slicerio.create_segmentation(ct.shape_xyz, ct.ijk_to_lps())
    slicerio.add_segment(seg, (heart_truth(ct) == 2).transpose(2, 1, 0), {"name": "Herz"})
    slicerio.add_segment(seg, np.zeros(ct.shape_xyz, bool), {"name": "Wirbelsaeule"})
    slicerio.write_segmentation(str(tmp_path / "ref.seg.nrrd"), seg)
    out = tmp_path / "out"
    args = [
        "segment",
        str(ct_path),
        "-o",
        str(out),
        "--model",
        str(tiny_model_dir),
        "--device",
        "cpu",
        "--reference",
        str(tmp_path / "ref.seg.nrrd"),
    ]
    assert main(args) == 2  # no segment is an organ: said so, with the way out
    assert "--map NAME=ORGAN" in capsys.readouterr().err
    assert main([*args, "--map", "herz=heart"]) == 0
    report = json.loads((out / "chest.json").read_text())
    assert report["metrics"]["heart"]["volume_ref_ml"] == pytest.approx(
        np.count_nonzero(heart_truth(ct)) * float(np.prod(ct.spacing)) / 1000
    )
    assert report["reference_unused_segments"] == ["Wirbelsaeule"]
    assert "reference segments not used" in capsys.readouterr().out
