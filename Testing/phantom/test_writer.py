"""SegTHOR layout on disk, geometry through SimpleITK and nibabel, byte-identical output, the CLI."""

from __future__ import annotations

import hashlib
import json
import time

import numpy as np
import pytest

from segthor.cli.main import main
from segthor.errors import InputError
from segthor.io.volume import read_volume
from segthor.phantom import generate_case, sample_case, write_case, write_cohort


def _digest(folder) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


@pytest.fixture(scope="module")
def small_case():
    return generate_case(5, size=64, n_slices=24)


def test_write_case_layout_and_geometry(small_case, tmp_path):
    import nibabel as nib

    case_dir = write_case(small_case, tmp_path, "Patient_07")
    assert case_dir == tmp_path / "Patient_07"
    assert sorted(p.name for p in case_dir.iterdir()) == ["GT.nii.gz", "Patient_07.json", "Patient_07.nii.gz"]
    ct = read_volume(case_dir / "Patient_07.nii.gz")
    gt = read_volume(case_dir / "GT.nii.gz")
    assert ct.array.dtype == np.int16 and gt.array.dtype == np.uint8
    np.testing.assert_array_equal(ct.array, small_case.ct.array)
    np.testing.assert_array_equal(gt.array, small_case.labels.array)
    assert ct.same_geometry(small_case.ct) and gt.same_geometry(ct)
    assert set(np.unique(gt.array)) == {0, 1, 2, 3, 4}
    # nibabel (RAS) sees the same voxels at the same places: LPS -> RAS flips x and y.
    img = nib.load(case_dir / "Patient_07.nii.gz")
    ras_from_lps = np.diag([-1.0, -1.0, 1.0, 1.0])
    np.testing.assert_allclose(img.affine, ras_from_lps @ ct.ijk_to_lps(), atol=1e-4)
    np.testing.assert_array_equal(np.asarray(img.dataobj).transpose(2, 1, 0), small_case.ct.array)
    assert nib.load(case_dir / "GT.nii.gz").get_data_dtype() == np.uint8
    meta = json.loads((case_dir / "Patient_07.json").read_text())
    assert meta["parameters"]["seed"] == 5
    assert meta["label_names"] == {"0": "background", "1": "esophagus", "2": "heart", "3": "trachea", "4": "aorta"}
    assert "not for clinical use" in meta["parameters"]["note"]


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    a = write_cohort(tmp_path / "a", cases=2, seed=9, size=48, n_slices=20)
    b = write_cohort(tmp_path / "b", cases=2, seed=9, size=48, n_slices=20)
    assert [_digest(p) for p in a] == [_digest(p) for p in b]
    assert _digest(a[0])["GT.nii.gz"] != _digest(a[1])["GT.nii.gz"]
    # A case's seed depends on its index only: Patient_02 alone equals Patient_02 of the cohort.
    c = write_cohort(tmp_path / "c", cases=1, seed=9, size=48, n_slices=20, first_index=2)
    assert c[0].name == "Patient_02" and _digest(c[0]) == _digest(a[1])


def test_existing_cases_are_never_overwritten_unless_asked(tmp_path):
    first = write_cohort(tmp_path, cases=1, seed=1, size=40, n_slices=16)
    before = _digest(first[0])
    with pytest.raises(InputError, match="overwrite"):
        write_cohort(tmp_path, cases=2, seed=2, size=40, n_slices=16)
    assert _digest(first[0]) == before
    assert not (tmp_path / "Patient_02").exists()  # a refused run writes nothing
    write_cohort(tmp_path, cases=1, seed=2, size=40, n_slices=16, overwrite=True)
    assert _digest(first[0]) != before


def test_sample_case_is_small_fast_and_fixed():
    sample_case()  # warm imports
    start = time.perf_counter()
    case = sample_case()
    assert time.perf_counter() - start < 1.0
    assert case.ct.array.shape == (64, 128, 128)
    np.testing.assert_array_equal(case.labels.array, sample_case().labels.array)
    assert all(np.any(case.labels.array == k) for k in (1, 2, 3, 4))


def test_cli_writes_cases_with_preview_and_refuses_to_overwrite(tmp_path, capsys):
    out = tmp_path / "phantoms"
    argv = ["phantom", str(out), "--cases", "2", "--seed", "4", "--size", "48", "--slices", "18", "--preview"]
    assert main(argv) == 0
    for name in ("Patient_01", "Patient_02"):
        files = sorted(p.name for p in (out / name).iterdir())
        assert files == ["GT.nii.gz", f"{name}.json", f"{name}.nii.gz", f"{name}_preview.png"]
    assert "not for clinical use" in capsys.readouterr().out
    before = _digest(out / "Patient_01")
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "segthor phantom: error:" in err and "--overwrite" in err and "Traceback" not in err
    assert _digest(out / "Patient_01") == before
    assert main([*argv, "--overwrite", "--seed", "5", "--no-contrast"]) == 0
    meta = json.loads((out / "Patient_01" / "Patient_01.json").read_text())
    assert meta["parameters"]["contrast"] is False and meta["parameters"]["cohort_seed"] == 5


@pytest.mark.parametrize("extra", [["--cases", "0"], ["--size", "4"], ["--slices", "2"]])
def test_cli_rejects_bad_values(extra, tmp_path, capsys):
    assert main(["phantom", str(tmp_path / "x"), *extra]) == 2
    assert "error:" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_bad_phantom_options_are_one_line_naming_the_option(tmp_path, capsys):
    from segthor.cli.main import main
    from segthor.phantom import write_cohort

    with pytest.raises(InputError, match="seed must be a non-negative integer"):  # was numpy's bare ValueError
        write_cohort(tmp_path / "api", cases=1, seed=-1, size=64)
    for option, words in (
        (["--seed", "-1"], "--seed must be a non-negative integer (got -1)"),
        (["--slices", "3"], "--slices must be at least 16 (got 3)"),
        (["--size", "20", "--generator", "v2"], "--size must be between 32 and 1024 pixels (got 20)"),
        (["--first-index", "-2"], "--first-index must be non-negative (got -2)"),
    ):
        assert main(["phantom", str(tmp_path / "out"), *option]) == 2
        err = capsys.readouterr().err
        assert words in err and err.count("\n") == 1
    assert not (tmp_path / "out").exists() and not (tmp_path / "api").exists()
