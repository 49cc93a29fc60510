"""The verdict is shown everywhere a result is: .seg.nrrd segment tags, MRML segments, batch summary CSV."""

import csv

import pytest
from thorax_helpers import METADATA, make_thorax

from segthor.batch_runner import run_batch
from segthor.io.volume import write_volume
from segthor.outputs.seg_nrrd import write_seg_nrrd
from segthor.quality import assess
from segthor.quality.report import TAG_REASONS, TAG_STATUS, status_text, summary_lines


def _broken():
    """The constructed thorax with its trachea erased: one implausible organ."""
    ct, labels = make_thorax()
    labels.array[labels.array == 3] = 0
    return ct, labels, assess(ct, labels, METADATA)


def test_seg_nrrd_segment_tags_carry_the_verdict(tmp_path):
    import slicerio

    ct, labels, quality = _broken()
    path = write_seg_nrrd(labels, tmp_path / "case.seg.nrrd", quality)
    segments = {s["name"]: s for s in slicerio.read_segmentation(str(path), skip_voxels=True)["segments"]}
    assert segments["Trachea"]["tags"][TAG_STATUS] == "implausible"
    assert "empty" in segments["Trachea"]["tags"][TAG_REASONS]
    assert segments["Heart"]["tags"][TAG_STATUS] == "ok" and segments["Heart"]["tags"][TAG_REASONS] == ""
    assert segments["Heart"]["terminology"]["type"][1] == "80891009"  # terminology still read


def test_text_summaries():
    _, _, quality = _broken()
    assert "trachea: implausible (empty" in "\n".join(summary_lines(quality))
    assert status_text(quality) == "needs review: trachea implausible"
    good = assess(*make_thorax(), METADATA)
    assert status_text(good) == "plausibility: all organs ok"


@pytest.mark.mrml
def test_mrml_segments_carry_the_verdict_as_tags(mrml_scene):
    from segthor.mrml.segmentation_nodes import build_organ_segments, commit_organ_segments
    from segthor.mrml.volume_nodes import node_from_volume

    ct, labels, quality = _broken()
    node = node_from_volume(ct, "ct", mrml_scene)
    result = commit_organ_segments(build_organ_segments(labels, quality), node)
    import vtk

    segmentation = result.segmentation_node.GetSegmentation()
    values = {}
    for key, sid in result.segment_ids.items():
        status, reasons = vtk.reference(""), vtk.reference("")
        segment = segmentation.GetSegment(sid)
        assert segment.GetTag(TAG_STATUS, status) and segment.GetTag(TAG_REASONS, reasons)
        values[key] = (str(status), str(reasons))
    assert values["trachea"][0] == "implausible" and "empty" in values["trachea"][1]
    assert values["heart"] == ("ok", "")


def test_batch_summary_shows_which_cases_need_a_look(tmp_path):
    good_ct, good_labels = make_thorax()
    bad_ct, bad_labels, _ = _broken()
    cases = tmp_path / "cases"
    write_volume(good_ct, cases / "good.nii.gz")
    write_volume(bad_ct, cases / "bad.nii.gz")
    truth = {"good": good_labels, "bad": bad_labels}

    def segment_case(case, reference):  # stands in for a model that drew exactly these labels
        from segthor.logic import organ_volumes_ml

        labels = truth[case.name]
        ct = good_ct if case.name == "good" else bad_ct
        return {
            "device": "cpu",
            "model": {"id": "constructed"},
            "organ_volumes_ml": organ_volumes_ml(labels),
            "quality": assess(ct, labels, METADATA).to_dict(),
        }

    summary = run_batch(segment_case, cases, tmp_path / "out", show_progress=False)
    with open(summary.csv_path, newline="", encoding="utf-8") as f:
        rows = {r["case"]: r for r in csv.DictReader(f)}
    assert rows["good"]["needs_review"] == "no" and rows["bad"]["needs_review"] == "yes"
    assert rows["bad"]["status_trachea"] == "implausible" and rows["bad"]["status_heart"] == "ok"
    assert "trachea: empty" in rows["bad"]["flags"] and rows["good"]["flags"] == ""
    assert float(rows["good"]["volume_ml_heart"]) == pytest.approx(549.8, abs=0.1)
    assert float(rows["bad"]["volume_ml_trachea"]) == 0.0


def test_report_round_trips_through_json():
    import json

    from segthor.quality import QualityReport

    _, _, quality = _broken()
    quality.organs["heart"].flag("confidence", "check", "the network was unsure")
    back = QualityReport.from_dict(json.loads(json.dumps(quality.to_dict())))
    assert back.to_dict() == quality.to_dict()
    assert back.statuses() == quality.statuses() and back.needs_review
