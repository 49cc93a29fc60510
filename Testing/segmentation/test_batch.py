"""Batch runs: case discovery for both layouts, rank splitting, resume, and one bad case not stopping others."""

import csv
import json

import numpy as np
import pytest
from segmentation_helpers import make_ct

from segthor.batch_runner import (
    CaseInput,
    discover_cases,
    find_reference,
    rank_and_world_size,
    run_batch,
    split_for_rank,
)
from segthor.errors import InputError, ModelError
from segthor.io.volume import write_volume


def _segthor_layout(root, n=3):
    ct = make_ct(shape=(4, 12, 12))
    for i in range(1, n + 1):
        folder = root / f"Patient_{i:02d}"
        write_volume(ct, folder / f"Patient_{i:02d}.nii.gz")
        write_volume(ct.with_array((ct.array > 100).astype(np.uint8) * 2), folder / "GT.nii.gz")
    return root


def test_discover_segthor_layout_and_references(tmp_path):
    cases = discover_cases(_segthor_layout(tmp_path))
    assert [c.name for c in cases] == ["Patient_01", "Patient_02", "Patient_03"]
    assert cases[0].image.name == "Patient_01.nii.gz"
    assert find_reference(cases[0], tmp_path) == tmp_path / "Patient_01" / "GT.nii.gz"
    assert find_reference(cases[0], None) is None


def test_discover_loose_files_skips_labels_and_outputs(tmp_path):
    ct = make_ct(shape=(4, 12, 12))
    for name in ("b.nii.gz", "a.nrrd", "a_labels.nii.gz", "a.seg.nrrd", "GT.nii.gz", "notes.txt"):
        (tmp_path / name).write_bytes(b"")
    write_volume(ct, tmp_path / "c.mha")
    assert [c.name for c in discover_cases(tmp_path)] == ["a", "b", "c"]
    with pytest.raises(InputError, match="no CT cases"):
        discover_cases(tmp_path / "nothing" if (tmp_path / "nothing").mkdir() is None else tmp_path)


@pytest.mark.parametrize("world_size", [1, 2, 3, 5])
def test_rank_split_is_disjoint_and_complete(world_size):
    cases = [CaseInput(f"case{i:02d}", None) for i in range(11)]
    shares = [split_for_rank(cases, r, world_size) for r in range(world_size)]
    names = [c.name for share in shares for c in share]
    assert sorted(names) == [c.name for c in cases] and len(set(names)) == len(names)
    assert max(map(len, shares)) - min(map(len, shares)) <= 1


def test_rank_from_torchrun_environment(monkeypatch):
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "3")
    assert rank_and_world_size() == (1, 3)
    monkeypatch.setenv("RANK", "3")
    with pytest.raises(InputError, match="invalid rank"):
        rank_and_world_size()


def test_bad_case_is_reported_others_run_and_resume_skips(tmp_path):
    root = _segthor_layout(tmp_path / "in")
    out = tmp_path / "out"
    calls = []

    def segment_case(case, reference):
        calls.append(case.name)
        if case.name == "Patient_02":
            raise ModelError("boom")
        report = {
            "case": case.name,
            "status": "ok",
            "device": "cpu",
            "model": {"id": "m"},
            "metrics": {"heart": {"dice": 0.75, "hd95": 1.5}},
            "reference": str(reference),
            "timings_s": {"total": 12.5},
        }
        (out / f"{case.name}.json").write_text(json.dumps(report))
        return report

    summary = run_batch(segment_case, root, out, reference_dir=root, show_progress=False)
    assert calls == ["Patient_01", "Patient_02", "Patient_03"]
    assert [r["status"] for r in summary.rows] == ["ok", "error", "ok"]
    with open(summary.csv_path, newline="") as f:
        rows = list(csv.DictReader(f))
    assert rows[0]["dice_heart"] == "0.75" and "boom" in rows[1]["message"]

    calls.clear()
    summary = run_batch(segment_case, root, out, resume=True, show_progress=False)
    assert calls == ["Patient_02"]  # finished cases skipped, the failed one retried
    assert [r["status"] for r in summary.rows] == ["resumed", "error", "resumed"]
    # A resumed case shows its results and time from its JSON, not "skipped, 0.0 s".
    assert summary.rows[0]["dice_heart"] == 0.75 and summary.rows[0]["seconds"] == 12.5


def test_ranks_write_their_own_summary_without_torchrun(tmp_path, monkeypatch):
    monkeypatch.delenv("MASTER_ADDR", raising=False)
    root = _segthor_layout(tmp_path / "in", n=4)
    done = []
    paths = []
    for rank in (0, 1):
        summary = run_batch(
            lambda c, r: done.append(c.name) or {}, root, tmp_path / "out", rank=rank, world_size=2, show_progress=False
        )
        paths.append(summary.csv_path.name)
        assert (tmp_path / "out" / f"summary_rank{rank}.csv").is_file()
    assert sorted(done) == [f"Patient_{i:02d}" for i in range(1, 5)] and len(set(done)) == 4
    # the first rank to finish keeps its own table; the last one merges every rank's, with no process group
    assert paths == ["summary_rank0.csv", "summary.csv"]
    with open(tmp_path / "out" / "summary.csv", newline="") as f:
        assert sorted(r["case"] for r in csv.DictReader(f)) == sorted(done)


def test_two_processes_under_torchrun_env_split_and_merge(tmp_path):
    """Two real processes with torchrun's environment: no case twice, one merged summary.csv."""
    import os
    import socket
    import subprocess
    import sys

    root = _segthor_layout(tmp_path / "in", n=5)
    out = tmp_path / "out"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code = (
        "import sys\n"
        "from segthor.batch_runner import run_batch\n"
        "def seg(case, ref):\n"
        "    print('DID', case.name, flush=True)\n"
        "    return {'status': 'ok'}\n"
        f"run_batch(seg, {str(root)!r}, {str(out)!r}, show_progress=False)\n"
    )
    procs = []
    for rank in range(2):
        env = dict(
            os.environ,
            RANK=str(rank),
            WORLD_SIZE="2",
            LOCAL_RANK=str(rank),
            MASTER_ADDR="127.0.0.1",
            MASTER_PORT=str(port),
        )
        procs.append(subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, text=True))
    outputs = [p.communicate(timeout=120)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0]
    done = [line.split()[1] for text in outputs for line in text.splitlines() if line.startswith("DID")]
    assert sorted(done) == [f"Patient_{i:02d}" for i in range(1, 6)]
    with open(out / "summary.csv", newline="") as f:
        assert sorted(r["case"] for r in csv.DictReader(f)) == sorted(done)


def test_resume_redoes_cases_of_another_model_or_without_the_reference_now_given(tmp_path):
    # --resume --model B after a run of model A, or --resume --reference-dir after a run without one, must not
    # pass the old results off as this run's ("finished earlier, results kept").
    root = _segthor_layout(tmp_path / "in", n=2)
    out = tmp_path / "out"
    calls = []

    def segmenter(sha):
        def segment_case(case, reference):
            calls.append(case.name)
            report = {
                "case": case.name,
                "status": "ok",
                "model": {"id": sha, "sha256": sha},
                "reference": str(reference) if reference else None,
                "timings_s": {"total": 1.0},
            }
            (out / f"{case.name}.json").write_text(json.dumps(report))
            return report

        return segment_case

    run_batch(segmenter("aaa"), root, out, show_progress=False, model_sha256="aaa")
    calls.clear()
    summary = run_batch(segmenter("aaa"), root, out, resume=True, show_progress=False, model_sha256="aaa")
    assert calls == [] and [r["status"] for r in summary.rows] == ["resumed", "resumed"]
    summary = run_batch(segmenter("bbb"), root, out, resume=True, show_progress=False, model_sha256="bbb")
    assert calls == ["Patient_01", "Patient_02"] and [r["status"] for r in summary.rows] == ["ok", "ok"]
    calls.clear()
    summary = run_batch(
        segmenter("bbb"), root, out, reference_dir=root, resume=True, show_progress=False, model_sha256="bbb"
    )
    assert calls == ["Patient_01", "Patient_02"]  # the old reports have no metrics for this reference
    calls.clear()
    run_batch(segmenter("bbb"), root, out, reference_dir=root, resume=True, show_progress=False, model_sha256="bbb")
    assert calls == []  # same model, same reference: kept


def test_an_unexpected_library_error_in_one_case_does_not_stop_the_batch(tmp_path, monkeypatch):
    monkeypatch.delenv("MASTER_ADDR", raising=False)
    root = _segthor_layout(tmp_path / "in", n=3)

    def segment_case(case, reference):
        if case.name == "Patient_02":
            raise AttributeError("'NoneType' object has no attribute 'SOPClassUID'\nsecond line of a library's message")
        return {}

    summary = run_batch(segment_case, root, tmp_path / "out", show_progress=False)
    rows = {r["case"]: r for r in csv.DictReader(summary.csv_path.open())}
    assert [rows[c]["status"] for c in ("Patient_01", "Patient_02", "Patient_03")] == ["ok", "error", "ok"]
    # one line: the first of the library's message
    assert rows["Patient_02"]["message"] == "AttributeError: 'NoneType' object has no attribute 'SOPClassUID'"
    assert rows["Patient_02"]["needs_review"] == "yes"
