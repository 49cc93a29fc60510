"""The clean-up rules that read the CT (lungs, extent, fat, lumen, neck, bridge) on a small synthetic chest with known
mistakes.

The chest is built in the patient frame [S, P, L] (index 0 = inferior, posterior and left grow with the index),
0.8 x 0.8 mm pixels and 5 mm slices: a soft-tissue body in outside air, two lungs (-850 HU) on slices 14-31,
a heart on slices 8-20, an esophagus and a descending aorta on every slice (the esophagus with an air pocket
closed by its wall on slices 24-26), and a trachea (air lumen of radius 6 mm inside a 2 mm wall) from slice 18
to the top. The labels hold the organs plus the mistakes each test adds.
"""

from __future__ import annotations

import numpy as np
import pytest

from segthor.errors import InputError
from segthor.inference.anatomy_rules import TRACHEA_WALL_MM, AirRegions, apply_hu_rules, trim_wall
from segthor.inference.postprocess import PostprocessOptions, postprocess_labels
from segthor.io.patient_frame import PatientFrame
from segthor.io.volume import Volume

PIXEL_MM, SLICE_MM = 0.8, 5.0
SHAPE = (44, 110, 140)  # S, P, L
LOWEST_LUNG, HIGHEST_LUNG = 14, 31
ESOPHAGUS, HEART, TRACHEA, AORTA = 1, 2, 3, 4
# Slices with a predicted trachea: a one-slice gap at 30 (5 mm, bridged) and a three-slice gap at 35-37 (15 mm, not).
TRACHEA_SLICES = [k for k in range(22, 44) if k not in (30, 35, 36, 37)]


def _disk(p_mm: float, l_mm: float, r_mm: float) -> np.ndarray:
    p, lat = np.ogrid[0 : SHAPE[1], 0 : SHAPE[2]]
    return (p * PIXEL_MM - p_mm) ** 2 + (lat * PIXEL_MM - l_mm) ** 2 <= r_mm**2


P_MM = np.arange(SHAPE[1])[:, None] * PIXEL_MM
HEART_DISK = _disk(24, 56, 9)
ESOPHAGUS_DISK = _disk(50, 56, 5)
POCKET = _disk(50, 56, 2)
AORTA_DISK = _disk(58, 66, 5)
LUMEN = _disk(34, 56, 6)
LUMEN_FRONT_HALF = LUMEN & (P_MM < 34)  # what the "network" predicted of the trachea on each slice
# Boxes [S, P, L] of mislabelled lung tissue, well inside the lungs (right lung: low L; left: high L).
HEART_IN_LEFT_LUNG = np.s_[14:21, 50:62, 95:105]
ESOPHAGUS_IN_RIGHT_LUNG = np.s_[20:28, 50:62, 30:40]
AORTA_IN_LEFT_LUNG = np.s_[18:24, 62:70, 100:108]
HEART_IN_OUTSIDE_AIR = np.s_[8:21, 0:5, 68:72]  # in front of the body


def chest(leak_slice: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(CT in HU, correct labels), both [S, P, L]. `leak_slice`: on that slice an air channel joins the tracheal
    lumen to the right lung (a main bronchus opening into the lung, as seen on one slice)."""
    p, lat = np.ogrid[0 : SHAPE[1], 0 : SHAPE[2]]
    pm, lm = p * PIXEL_MM, lat * PIXEL_MM
    ct = np.full(SHAPE, -1000, np.int16)
    labels = np.zeros(SHAPE, np.uint8)
    ct[:, ((pm - 44) / 40) ** 2 + ((lm - 56) / 52) ** 2 <= 1] = 40
    for centre in (30, 82):
        ct[LOWEST_LUNG : HIGHEST_LUNG + 1, ((pm - 44) / 26) ** 2 + ((lm - centre) / 16) ** 2 <= 1] = -850
    ct[8:21, HEART_DISK] = 60
    labels[8:21, HEART_DISK] = HEART
    ct[:, ESOPHAGUS_DISK] = 40
    labels[:, ESOPHAGUS_DISK] = ESOPHAGUS
    ct[24:27, POCKET] = -1000
    ct[:, AORTA_DISK] = 200
    labels[:, AORTA_DISK] = AORTA
    ct[16:, _disk(34, 56, 8)] = 40
    ct[18:, LUMEN] = -1000
    for k in TRACHEA_SLICES:
        labels[k, LUMEN_FRONT_HALF] = TRACHEA
    if leak_slice is not None:
        ct[leak_slice, 40:47, 45:67] = -1000
    return ct, labels


def _volume(ct: np.ndarray) -> Volume:
    """The chest stored as [z, y, x] = [S, P, L]: identity direction (LPS), spacing (x, y, z) = (L, P, S)."""
    return Volume(ct, (PIXEL_MM, PIXEL_MM, SLICE_MM))


def _run(labels: np.ndarray, ct: np.ndarray, spec) -> np.ndarray:
    volume = _volume(ct)
    return postprocess_labels(labels, PostprocessOptions.parse(spec), volume.spacing, volume)


def _slices(labels: np.ndarray, label: int) -> list[int]:
    return np.flatnonzero((labels == label).any(axis=(1, 2))).tolist()


def test_the_synthetic_chest_has_the_lungs_it_is_built_with():
    ct, _ = chest()
    air = AirRegions(ct, (SLICE_MM, PIXEL_MM, PIXEL_MM))
    assert (air.lowest_lung_slice, air.highest_lung_slice) == (LOWEST_LUNG, HIGHEST_LUNG)
    assert air.factors == (2, 2)  # 1.6 mm cells


def test_lungs_rule_removes_lung_tissue_only():
    ct, truth = chest()
    labels = truth.copy()
    labels[HEART_IN_LEFT_LUNG] = HEART
    labels[ESOPHAGUS_IN_RIGHT_LUNG] = ESOPHAGUS
    labels[AORTA_IN_LEFT_LUNG] = AORTA
    labels[HEART_IN_OUTSIDE_AIR] = HEART
    assert (ct[HEART_IN_LEFT_LUNG] == -850).all() and (ct[HEART_IN_OUTSIDE_AIR][:, 0:4] == -1000).all()
    out = _run(labels, ct, ["esophagus:lungs", "heart:lungs", "aorta:lungs"])
    assert not out[HEART_IN_LEFT_LUNG].any()
    assert not out[ESOPHAGUS_IN_RIGHT_LUNG].any()
    assert not out[AORTA_IN_LEFT_LUNG].any()
    # Outside air reaches the image's edges: not lung, so a heart label there is left to other checks.
    np.testing.assert_array_equal(out[HEART_IN_OUTSIDE_AIR], HEART)
    # The esophagus's own air pocket is closed by its wall: kept.
    assert (out[24:27][:, POCKET] == ESOPHAGUS).all()
    # Everything else as it was: the organs' own voxels, and nothing written into another organ.
    wrong = np.zeros(SHAPE, bool)
    for box in (HEART_IN_LEFT_LUNG, ESOPHAGUS_IN_RIGHT_LUNG, AORTA_IN_LEFT_LUNG):
        wrong[box] = True
    np.testing.assert_array_equal(out[~wrong], labels[~wrong])


def test_lungs_rule_removes_the_lungs_edge_voxels_in_cells_only_partly_air():
    # Found on the real CT made noisier (benchmarks/bench_real_ct_variants.py): the lung search works on 1.6 mm
    # cells, and a cell is lung only when all its voxels are air, so where the lung's edge falls inside a cell
    # the organ voxels drawn one voxel into the lung stayed (0.2-0.4 ml of esophagus, 2-7 % of it).
    ct = np.full((20, 80, 80), 40, np.int16)
    ct[2:18, 10:70, 41:76] = -850  # a lung starting at an odd column: cells (40, 41) are half air
    ct[5:15, 30:40, 35:37] = -1000  # an air pocket closed by an organ's wall (columns 37-40, 3.2 mm)
    air = AirRegions(ct, (SLICE_MM, PIXEL_MM, PIXEL_MM))
    assert air.factors == (2, 2) and not air.lung_cells[:, :, 20].any()  # the edge column's cells: not lung
    labels = np.zeros(ct.shape, np.uint8)
    labels[4:16, 25:45, 28:43] = ESOPHAGUS  # two columns (41, 42) into the lung
    out = postprocess_labels(labels, PostprocessOptions.parse("esophagus:lungs"), ct=_volume(ct))
    assert not (out[:, :, 41:43] == ESOPHAGUS).any()
    assert (out[5:15, 30:40, 35:37] == ESOPHAGUS).all()  # its own air pocket is not joined to the lung
    np.testing.assert_array_equal(out[:, :, :41], labels[:, :, :41])


@pytest.mark.parametrize("opening", ["empty_top_slice", "airway_open_on_top_slice"])
def test_lungs_are_found_when_the_airway_reaches_the_outside_air_on_another_slice(opening):
    # Found on the real CT resampled to thinner slices: its top slice lay past the scan and was filled with air,
    # which joined the trachea, and through it the lungs, to the image's edge; no lungs were found and the
    # lungs, extent and lumen rules did nothing. A scan that takes in the nose or mouth joins them the same way.
    ct, _ = chest(leak_slice=25)  # the trachea joined to the right lung
    if opening == "empty_top_slice":
        ct[-1] = -1000
    else:
        ct[-1, 34 : 34 + 5, 56:] = -1000  # a channel from the lumen to the image's side
    air = AirRegions(ct, (SLICE_MM, PIXEL_MM, PIXEL_MM))
    assert (air.lowest_lung_slice, air.highest_lung_slice) == (LOWEST_LUNG, HIGHEST_LUNG)
    assert not air.lung_cells[-1].any()  # that slice's air is outside air


def test_outside_air_at_the_far_edges_of_an_odd_sized_image_is_not_lung():
    # Found while testing: the 1.6 mm cells padded odd-sized images with "not air", so outside air touching only
    # the last row and column never reached the cell grid's edge and 50 ml of it counted as lung.
    ct = np.full((40, 61, 61), 40, np.int16)
    ct[:, 31:, 31:] = -1000
    air = AirRegions(ct, (SLICE_MM, PIXEL_MM, PIXEL_MM))
    assert air.factors == (2, 2) and not air.lung_cells.any()
    labels = np.zeros(ct.shape, np.uint8)
    labels[:, 25:40, 25:40] = HEART
    out = postprocess_labels(labels, PostprocessOptions.parse("heart:lungs"), ct=_volume(ct))
    np.testing.assert_array_equal(out, labels)


def test_extent_uses_the_lowest_and_highest_lung_slices():
    ct, truth = chest()
    labels = truth.copy()
    labels[0:44, LUMEN_FRONT_HALF] = TRACHEA  # a trachea on every slice
    out = _run(labels, ct, "extent")
    # The heart rests on the diaphragm: nothing of it more than 20 mm (4 slices) below the lungs' lowest slice.
    assert _slices(out, HEART) == list(range(LOWEST_LUNG - 4, 21))
    # Esophagus and aorta: removed only more than 40 mm (8 slices) below it; slice 6 is exactly 40 mm below.
    assert _slices(out, ESOPHAGUS) == list(range(LOWEST_LUNG - 8, 44))
    assert _slices(out, AORTA) == list(range(LOWEST_LUNG - 8, 44))
    # Trachea: removed only more than 50 mm (10 slices) above the apex slice; not limited downwards.
    assert _slices(out, TRACHEA) == list(range(0, HIGHEST_LUNG + 11))
    # Removal only: every remaining voxel carries its input label.
    kept = out > 0
    np.testing.assert_array_equal(out[kept], labels[kept])


def test_extent_without_lungs_changes_nothing():
    ct, labels = chest()
    ct[ct == -850] = 40  # no lungs in this "CT"
    out = _run(labels, ct, ["extent"])
    np.testing.assert_array_equal(out, labels)


def test_lumen_fills_the_tube_on_predicted_slices_and_short_gaps_only():
    ct, labels = chest()
    out = _run(labels, ct, "trachea:lumen")
    filled = [k for k in range(SHAPE[0]) if (out[k][LUMEN] == TRACHEA).all()]
    # Predicted slices and the 5 mm gap (slice 30); not the 15 mm gap (35-37), not the air tube below the
    # predicted trachea's lowest slice (18-21).
    assert filled == [k for k in range(22, 44) if k not in (35, 36, 37)]
    assert not (out[18:22] == TRACHEA).any() and not (out[35:38] == TRACHEA).any()
    # Only the lumen: not the wall, nothing outside it.
    assert ((out == TRACHEA) & ~LUMEN[None]).sum() == 0
    # The other organs are untouched.
    np.testing.assert_array_equal(out[out != TRACHEA], labels[out != TRACHEA])


def test_lumen_found_when_the_prediction_covers_a_small_part_of_it():
    ct, labels = chest()
    labels[labels == TRACHEA] = 0
    sliver = LUMEN & (P_MM < 31)  # about a sixth of the lumen (below the 3x leak factor on its own)
    assert LUMEN.sum() > 3 * sliver.sum()
    labels[22:30, sliver] = TRACHEA
    out = _run(labels, ct, "trachea:lumen")
    assert all((out[k][LUMEN] == TRACHEA).all() for k in range(22, 30))


def test_lumen_does_not_leak_into_a_lung_opening_on_one_slice():
    ct, labels = chest(leak_slice=26)
    out = _run(labels, ct, "trachea:lumen")
    lung = ct == -850
    assert not (out[lung] == TRACHEA).any()
    assert not ((out[26] == TRACHEA) & (ct[26] == -1000) & (labels[26] != TRACHEA)).any()  # nothing added there
    assert (out[26][LUMEN_FRONT_HALF] == TRACHEA).all()  # the prediction itself stays
    for k in (25, 27):  # the slices around it are completed as usual
        assert (out[k][LUMEN] == TRACHEA).all()


def test_lumen_never_overwrites_another_organ():
    ct, labels = chest()
    back_half = LUMEN & (P_MM > 36)
    labels[28, back_half] = AORTA  # the network called part of the lumen aorta
    out = _run(labels, ct, "trachea:lumen")
    assert (out[28][back_half] == AORTA).all()
    assert (out[28][LUMEN & ~back_half] == TRACHEA).all()


def _stored(array_spl: np.ndarray, direction: np.ndarray, spacing_spl: tuple[float, float, float]) -> Volume:
    """The [S, P, L] array stored in the geometry of `direction` (columns: image axes x, y, z in LPS)."""
    d = np.asarray(direction)
    world_of_image = [int(np.argmax(np.abs(d[:, j]))) for j in range(3)]  # image axis j -> LPS axis (x=0)
    # Array axis a (0=z) holds image axis 2-a, which lies along LPS axis world_of_image[2-a]; S,P,L = LPS 2,1,0.
    source_axes = [2 - world_of_image[2 - a] for a in range(3)]
    flips = [d[world_of_image[2 - a], 2 - a] < 0 for a in range(3)]
    stored = np.transpose(array_spl, source_axes)
    stored = stored[tuple(slice(None, None, -1) if f else slice(None) for f in flips)]
    spacing = tuple(spacing_spl[2 - world_of_image[j]] for j in range(3))
    volume = Volume(np.ascontiguousarray(stored), spacing, (0.0, 0.0, 0.0), d)
    np.testing.assert_array_equal(PatientFrame.of(volume).view(volume.array), array_spl)  # the test's own check
    return volume


@pytest.mark.parametrize(
    "direction",
    [
        np.array([[0.0, 1.0, 0.0], [0.0, 0.0, -1.0], [-1.0, 0.0, 0.0]]),  # image axes along -S, +L, -P
        np.diag([-1.0, -1.0, 1.0]),  # RAS-stored axial slices
        np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, -1.0, 0.0]]),  # sagittal slices, rows running down S
    ],
)
def test_results_do_not_depend_on_how_the_ct_is_stored(direction):
    ct, truth = chest(leak_slice=26)
    labels = truth.copy()
    labels[HEART_IN_LEFT_LUNG] = HEART
    labels[HEART_IN_OUTSIDE_AIR] = HEART
    labels[0:8, ESOPHAGUS_DISK] = 0
    labels[0:44, LUMEN_FRONT_HALF] = TRACHEA
    labels[28, LUMEN & (P_MM > 36)] = AORTA
    labels[21, _disk(22, 56, 1)] = HEART  # a waist above the heart, then a swelling (the neck rule)
    labels[22:26, _disk(20, 56, 7)] = HEART
    labels[14:17, AORTA_DISK] = 0  # a 15 mm gap in the aorta (the bridge rule)
    options = PostprocessOptions.parse(None)
    spacing_spl = (SLICE_MM, PIXEL_MM, PIXEL_MM)
    reference = postprocess_labels(labels, options, _volume(ct).spacing, _volume(ct))
    assert not (reference == labels).all()  # the rules did something to compare
    assert _slices(reference, HEART) == list(range(10, 21))  # extent below, neck above
    assert _slices(reference, AORTA) == list(range(6, SHAPE[0]))  # bridged (below 6: the extent rule)
    ct_volume = _stored(ct, direction, spacing_spl)
    stored_labels = _stored(labels, direction, spacing_spl).array
    out = postprocess_labels(stored_labels, options, ct_volume.spacing, ct_volume)
    np.testing.assert_array_equal(PatientFrame.of(ct_volume).view(out), reference)


def test_rules_apply_to_their_organs_only():
    with pytest.raises(InputError) as raised:
        PostprocessOptions.parse("trachea:lungs")
    message = str(raised.value)
    assert "\n" not in message and "esophagus, heart, aorta" in message and "trachea" in message
    with pytest.raises(InputError, match="applies to trachea only"):
        PostprocessOptions.parse("heart:lumen")
    everything = PostprocessOptions.parse("all")
    assert [s for s in everything.for_organ("esophagus") if s in ("lungs", "extent", "lumen")] == ["lungs", "extent"]
    assert [s for s in everything.for_organ("heart") if s in ("lungs", "extent", "lumen")] == ["lungs", "extent"]
    assert [s for s in everything.for_organ("aorta") if s in ("lungs", "extent", "lumen")] == ["lungs", "extent"]
    assert [s for s in everything.for_organ("trachea") if s in ("lungs", "extent", "lumen")] == ["extent", "lumen"]
    # Without an organ, a rule goes to the organs it is defined for.
    assert PostprocessOptions.parse("lumen").steps == {"esophagus": (), "heart": (), "trachea": ("lumen",), "aorta": ()}


def test_defaults_hold_the_rules_and_none_turns_them_off():
    defaults = PostprocessOptions.default()
    assert defaults.for_organ("heart")[:2] == ("lungs", "extent")
    assert defaults.for_organ("trachea")[:2] == ("extent", "lumen")
    assert not PostprocessOptions.parse("none").enabled


def test_rules_need_the_ct():
    ct, labels = chest()
    with pytest.raises(InputError, match="need the CT"):
        postprocess_labels(labels, PostprocessOptions.parse("heart:lungs"))
    with pytest.raises(InputError, match="need the CT"):
        postprocess_labels(labels, PostprocessOptions.parse("heart:extent"), ct=_volume(ct[:-1]))
    # Steps that do not read the CT work without it.
    postprocess_labels(labels, PostprocessOptions.parse("heart:fill,lcc"))


def test_apply_hu_rules_with_nothing_to_do_returns_the_labels():
    ct, labels = chest()
    assert apply_hu_rules(labels, _volume(ct), {1: (), 2: ()}) is labels


def test_segment_cli_records_the_rules_in_the_case_report(tmp_path, tiny_model_dir, capsys):
    import json

    from segmentation_helpers import make_ct

    from segthor.cli.main import main
    from segthor.io.volume import write_volume

    ct_path = write_volume(make_ct(shape=(6, 30, 30)), tmp_path / "chest.nii.gz")
    recorded = {}
    for name, extra in (("default", []), ("none", ["--postprocess", "none"])):
        out = tmp_path / name
        args = ["segment", str(ct_path), "-o", str(out), "--model", str(tiny_model_dir), "--device", "cpu", "-q"]
        assert main(args + extra) == 0, capsys.readouterr().err
        recorded[name] = json.loads((out / "chest.json").read_text())["postprocess"]
    default = recorded["default"]
    assert default["source"] == "default"
    assert {k: v["steps"] for k, v in default["organs"].items()} == {
        "esophagus": ["lungs", "extent", "fat", "lcc", "fill"],
        "heart": ["lungs", "extent", "neck", "lcc", "fill"],
        "trachea": ["extent", "lumen", "lcc", "fill"],
        "aorta": ["lungs", "extent", "fat", "bridge", "drop"],
    }
    assert recorded["none"]["source"] == "user"
    assert all(v["steps"] == [] for v in recorded["none"]["organs"].values())


def test_specs_from_defaults_for_check_boxes():
    from segthor.inference.postprocess import specs_from_defaults

    assert specs_from_defaults() == []  # the defaults themselves
    without = PostprocessOptions.parse(specs_from_defaults(rules=False))
    assert without.for_organ("trachea") == ("lcc", "fill") and without.for_organ("aorta") == ("drop",)
    assert without.min_piece_mm3 == {"aorta": 2000.0}
    lumen_for_all = PostprocessOptions.parse(specs_from_defaults(["lumen"], rules=False))
    assert lumen_for_all.for_organ("trachea") == ("lumen", "lcc", "fill")  # only where the rule applies
    assert "lumen" not in lumen_for_all.for_organ("heart")
    with pytest.raises(InputError, match="unknown step"):
        specs_from_defaults(["melt"])
    with pytest.raises(InputError, match="per organ"):
        specs_from_defaults(["drop=2ml"])


def test_lumen_does_not_add_a_lung_that_the_box_cuts_to_a_sliver():
    # Found while testing: the lumen search runs in the trachea's box grown by 15 mm, and a lung beside the
    # predicted trachea, cut to that box, was small enough to pass the size limits: 900 lung voxels became trachea.
    ct = np.full((3, 100, 120), 40, np.int16)
    ct[:, 20:80, 10:50] = -850  # a lung of 2400 pixels per slice, far above any lumen limit
    labels = np.zeros(ct.shape, np.uint8)
    labels[:, 45:55, 50:60] = TRACHEA  # touches the lung's edge; no air lumen of its own
    out = _run(labels, ct, "trachea:lumen")
    np.testing.assert_array_equal(out, labels)


def test_gas_is_not_lung_when_the_lungs_reach_the_field_of_view():
    # Found while testing: with both lungs cut by the field of view (they reach its edges, like outside air), a
    # 60 ml stomach bubble below them was taken for the lungs, and the extent rule deleted the whole trachea
    # as lying more than 50 mm above the "lungs".
    ct = np.full((40, 100, 100), 40, np.int16)
    ct[:, :5, :] = -1000  # outside air in front of the chest
    ct[12:36, 20:80, 0:35] = -850
    ct[12:36, 20:80, 65:100] = -850
    ct[0:11, 30:75, 52:92] = -1000  # gas, 11 slices of 11.5 cm^2
    air = AirRegions(ct, (SLICE_MM, PIXEL_MM, PIXEL_MM))
    assert air.lowest_lung_slice is None and not air.lung_cells.any()
    labels = np.zeros(ct.shape, np.uint8)
    labels[30:40, 45:52, 47:53] = TRACHEA
    ct[30:40, 47:50, 49:51] = -1000  # its lumen (a trachea without air is removed by the lumen rule)
    labels[2:8, 40:60, 60:70] = AORTA  # in the gas: left to the other checks, not removed as "lung"
    out = _run(labels, ct, None)
    np.testing.assert_array_equal(out, labels)
    # Real lungs, whose parenchyma averages well above the gas's -1000 HU, are still lungs.
    ct[12:36, 20:80, 1:34] = -850
    ct[12:36, 20:80, 66:99] = -850
    ct[12:36, 20:80, 0] = ct[12:36, 20:80, 99] = 40
    assert AirRegions(ct, (SLICE_MM, PIXEL_MM, PIXEL_MM)).highest_lung_slice == 35


def test_all_for_one_organ_takes_the_rules_that_apply_to_it():
    # Found while testing: "trachea:all" failed with "'lungs' applies to esophagus, heart, aorta only".
    assert PostprocessOptions.parse("trachea:all").for_organ("trachea") == (
        "extent",
        "lumen",
        "close",
        "open",
        "lcc",
        "fill",
    )
    heart = PostprocessOptions.parse("HEART:All").for_organ("heart")
    assert heart == ("lungs", "extent", "neck", "close", "open", "lcc", "fill")
    with pytest.raises(InputError, match="applies to trachea only"):
        PostprocessOptions.parse("heart:lumen,fill")


def test_labels_on_another_grid_name_both_shapes():
    ct, labels = chest()
    with pytest.raises(InputError) as raised:
        postprocess_labels(labels[:, :, :-1], PostprocessOptions.parse(None), ct=_volume(ct))
    message = str(raised.value)
    assert "(44, 110, 139)" in message and "(44, 110, 140)" in message and "\n" not in message


def test_options_built_directly_are_checked_like_parsed_ones():
    # Found while testing: PostprocessOptions(steps={"heart": ("lumen",)}) ran the lumen rule on the heart and
    # turned the air beside it into heart; unknown organs and steps were ignored silently.
    for steps, words in (
        ({"heart": ("lumen",)}, "'lumen' applies to trachea only, not the heart"),
        ({"trachea": ("lungs",)}, "applies to esophagus, heart, aorta only"),
        ({"heart": ("melt",)}, "unknown step 'melt'"),
        ({"lung": ("lcc",)}, "unknown organ 'lung'"),
    ):
        with pytest.raises(InputError, match=words):
            PostprocessOptions(steps=steps)
    assert PostprocessOptions(steps={"trachea": ("extent", "lumen", "fill")}).enabled


def test_an_empty_spec_list_is_the_defaults():
    # Found while testing: specs_from_defaults() returns [] for "the defaults", but segthor.api.segment(...,
    # postprocess=[]) parsed [] as no clean-up at all (the Slicer module maps [] to None itself; the API did not).
    from segthor.inference.postprocess import specs_from_defaults

    assert PostprocessOptions.parse([]) == PostprocessOptions.default()
    assert PostprocessOptions.parse(specs_from_defaults()).source == "default"
    assert PostprocessOptions.parse(iter(())) == PostprocessOptions.default()
    assert not PostprocessOptions.parse("none").enabled and not PostprocessOptions.parse(["none"]).enabled


def test_what_the_rules_did_is_recorded():
    # Found while testing: the case JSON listed the rules as applied even when no lungs were found (a field of
    # view that cuts the lungs), so "lungs" and "extent" had changed nothing; it now says so, organ by organ.
    ct, truth = chest()
    labels = truth.copy()
    labels[HEART_IN_LEFT_LUNG] = HEART
    record: dict = {}
    volume = _volume(ct)
    rules_only = ["esophagus:lungs,extent", "heart:lungs,extent", "trachea:extent,lumen", "aorta:lungs,extent"]
    out = postprocess_labels(labels, PostprocessOptions.parse(rules_only), volume.spacing, volume, record=record)
    rules = record["anatomical_rules"]
    assert rules["lungs_found"] is True
    for key, label in (("esophagus", ESOPHAGUS), ("heart", HEART), ("trachea", TRACHEA), ("aorta", AORTA)):
        removed = int(((labels == label) & (out != label)).sum())
        added = int(((out == label) & (labels != label)).sum())
        changes = rules["organs"][key]
        assert (changes["removed_voxels"], changes["added_voxels"]) == (removed, added), key
        assert sum(r["removed_voxels"] for r in changes["by_rule"].values()) >= removed, key
    # The heart in the left lung and its two slices more than 20 mm below the lungs; the trachea's lumen: each
    # counted under the rule that did it (the case JSON said only what the rules did together).
    heart = rules["organs"]["heart"]
    assert heart["removed_voxels"] == 7 * 12 * 10 + 2 * int(HEART_DISK.sum())
    assert heart["by_rule"] == {
        "lungs": {"removed_voxels": 7 * 12 * 10, "added_voxels": 0},
        "extent": {"removed_voxels": 2 * int(HEART_DISK.sum()), "added_voxels": 0},
    }
    trachea = rules["organs"]["trachea"]
    assert trachea["added_voxels"] > 0 and trachea["by_rule"]["lumen"]["added_voxels"] == trachea["added_voxels"]
    assert list(trachea["by_rule"]) == ["extent", "lumen"]
    no_lungs = np.where(ct == -850, 40, ct).astype(ct.dtype)
    record = {}
    postprocess_labels(labels, PostprocessOptions.parse("heart:lungs,extent"), ct=_volume(no_lungs), record=record)
    assert record["anatomical_rules"] == {
        "lungs_found": False,
        "organs": {
            "heart": {
                "removed_voxels": 0,
                "added_voxels": 0,
                "by_rule": {
                    "lungs": {"removed_voxels": 0, "added_voxels": 0},
                    "extent": {"removed_voxels": 0, "added_voxels": 0},
                },
            }
        },
    }
    record = {}
    postprocess_labels(labels, PostprocessOptions.parse("heart:fill"), record=record)
    assert record == {}  # no rule ran


def test_the_case_report_records_what_the_rules_did(tmp_path, tiny_model_dir, capsys):
    import json

    from segmentation_helpers import make_ct

    from segthor.cli.main import main
    from segthor.io.volume import write_volume

    ct_path = write_volume(make_ct(shape=(6, 30, 30)), tmp_path / "chest.nii.gz")
    args = ["segment", str(ct_path), "-o", str(tmp_path / "out"), "--model", str(tiny_model_dir), "--device", "cpu"]
    assert main([*args, "-q"]) == 0, capsys.readouterr().err
    rules = json.loads((tmp_path / "out" / "chest.json").read_text())["postprocess"]["anatomical_rules"]
    assert isinstance(rules["lungs_found"], bool)
    for changes in rules["organs"].values():
        assert set(changes) == {"removed_voxels", "added_voxels", "by_rule"}


def _heart_with(spill_slices: range, bridge_slice: int, spill_radius_mm: float = 12.0) -> np.ndarray:
    """Labels [S, P, L] holding only the chest's heart (slices 8-20) and, past a one-slice waist of a few
    voxels, a wider structure labelled heart (the liver dome under the diaphragm, as a 2D network labels it)."""
    labels = np.zeros(SHAPE, np.uint8)
    labels[8:21, HEART_DISK] = HEART
    labels[bridge_slice, _disk(24, 56, 1)] = HEART
    labels[spill_slices.start : spill_slices.stop, _disk(24, 56, spill_radius_mm)] = HEART
    return labels


@pytest.mark.parametrize(("spill", "bridge"), [(range(2, 7), 7), (range(22, 27), 21)])
def test_neck_cuts_what_swells_again_past_a_waist(spill, bridge):
    ct = np.full(SHAPE, 40, np.int16)  # no lungs: the other rules have nothing to go by
    labels = _heart_with(spill, bridge)
    assert len(_pieces(labels == HEART)) == 1  # one piece: keeping the largest piece would keep it all
    out = _run(labels, ct, ["heart:neck"])
    assert _slices(out, HEART) == list(range(8, 21))
    np.testing.assert_array_equal(out[8:21] == HEART, labels[8:21] == HEART)


def test_neck_keeps_a_heart_that_narrows_to_its_apex_and_wobbles():
    ct = np.full(SHAPE, 40, np.int16)
    labels = np.zeros(SHAPE, np.uint8)
    # A cone from 9 mm at slice 20 down to 1 mm at slice 8, with a wobble near the apex: slice 10 narrower than
    # slice 9 (growth past a waist, but to less than 15 % of the widest slice: still the apex).
    radii = {k: 1.0 + 8.0 * (k - 8) / 12 for k in range(8, 21)}
    radii[10], radii[9] = 1.2, 3.0
    for k, r in radii.items():
        labels[k, _disk(24, 56, r)] = HEART
    np.testing.assert_array_equal(_run(labels, ct, ["heart:neck"]), labels)
    # A waist whose regrowth stays small (the top of a heart the network under-segmented) is kept as well.
    labels = _heart_with(range(22, 24), 21, spill_radius_mm=2.5)
    np.testing.assert_array_equal(_run(labels, ct, ["heart:neck"]), labels)


def test_neck_applies_to_the_heart_only():
    with pytest.raises(InputError, match="neck.*heart only"):
        PostprocessOptions.parse("esophagus:neck")


def _pieces(mask: np.ndarray) -> list[int]:
    from scipy import ndimage

    components, count = ndimage.label(mask)
    return [int((components == i).sum()) for i in range(1, count + 1)]


def _aorta_only(gap: range, ct: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(CT, labels) [S, P, L]: the chest's CT (or `ct`) and its aorta alone, with the slices of `gap` empty."""
    chest_ct, _ = chest()
    labels = np.zeros(SHAPE, np.uint8)
    labels[:, AORTA_DISK] = AORTA
    labels[gap.start : gap.stop] = 0
    return (chest_ct if ct is None else ct), labels


def test_bridge_joins_a_tube_across_a_short_gap_of_blood():
    ct, labels = _aorta_only(range(10, 16))  # 30 mm: the longest gap bridged
    out = _run(labels, ct, ["aorta:bridge"])
    np.testing.assert_array_equal(out[10:16] == AORTA, np.broadcast_to(AORTA_DISK, (6, *AORTA_DISK.shape)))
    assert (out[(labels == AORTA)] == AORTA).all()
    ct, labels = _aorta_only(range(10, 17))  # 35 mm: two pieces stay two
    np.testing.assert_array_equal(_run(labels, ct, ["aorta:bridge"]), labels)


def test_bridge_follows_a_tube_that_moves_and_tapers_at_its_ends():
    ct, _ = chest()
    labels = np.zeros(SHAPE, np.uint8)
    for k in range(0, 10):
        labels[k, _disk(58, 60, 5)] = AORTA
    labels[9, :, :] = 0
    labels[9, _disk(58, 60, 1.5)] = AORTA  # the network's label fades out on the last slice
    for k in range(13, 25):
        labels[k, _disk(58, 64, 5)] = AORTA
    ct[:, _disk(58, 62, 8)] = 200
    out = _run(labels, ct, ["aorta:bridge"])
    assert _slices(out, AORTA) == list(range(25))
    for k in (10, 11, 12):  # between the two cross-sections: centre between 60 and 64 mm, radius about 5 mm
        lat = np.nonzero(out[k] == AORTA)[1] * PIXEL_MM
        assert 60.0 < lat.mean() < 64.0 and 7.0 < np.ptp(lat) < 12.0, k


def test_bridge_reads_the_far_piece_past_its_faded_first_slice():
    # Found on a real CT re-made with 1 mm pixels: the ascending aorta's upper piece began with a sliver that
    # barely touched the lower piece's end, so the bridge gave up there although the next slice overlapped it
    # well. The far piece's end fades as the near piece's does: its best slice near that end decides.
    ct, _ = chest()
    labels = np.zeros(SHAPE, np.uint8)
    for k in range(0, 10):
        labels[k, _disk(58, 60, 5)] = AORTA
    labels[15, _disk(58, 68.5, 5)] = AORTA  # its first slice, off to the side: a sliver of overlap
    for k in range(16, 25):
        labels[k, _disk(58, 62, 5)] = AORTA
    ct[:, _disk(58, 62, 8)] = 200
    out = _run(labels, ct, ["aorta:bridge"])
    assert _slices(out, AORTA) == list(range(25)) and len(_pieces(out == AORTA)) == 1


def test_bridge_does_not_cross_lung_or_bone_or_join_pieces_side_by_side():
    ct, labels = _aorta_only(range(10, 13))
    ct[10:13, AORTA_DISK] = -850  # the gap holds lung: no tube runs through it
    np.testing.assert_array_equal(_run(labels, ct, ["aorta:bridge"]), labels)
    ct[10:13, AORTA_DISK] = 900  # bone
    np.testing.assert_array_equal(_run(labels, ct, ["aorta:bridge"]), labels)
    # Ascending and descending aorta of a scan that stops below the arch: side by side, never joined.
    ct, _ = chest()
    labels = np.zeros(SHAPE, np.uint8)
    labels[0:20, _disk(58, 66, 5)] = AORTA
    labels[0:20, _disk(20, 50, 6)] = AORTA
    ct[0:20, _disk(20, 50, 6)] = 200
    np.testing.assert_array_equal(_run(labels, ct, ["aorta:bridge"]), labels)


def test_bridge_never_overwrites_another_organ():
    ct, labels = _aorta_only(range(10, 13))
    labels[11, AORTA_DISK & (P_MM < 58)] = ESOPHAGUS
    out = _run(labels, ct, ["aorta:bridge"])
    assert (out[11][AORTA_DISK & (P_MM < 58)] == ESOPHAGUS).all()
    assert (out[11][AORTA_DISK & (P_MM >= 58)] == AORTA).all() and (out[[10, 12]][:, AORTA_DISK] == AORTA).all()


def test_bridge_leaves_specks_to_the_drop_step():
    # Found by a new-user test: one false voxel 26 mm below the aorta's end was joined to it by a 545-voxel cone
    # (bridge runs before drop=2ml, which would have removed the speck). Pieces below 2 ml take no part.
    ct, labels = _aorta_only(range(0, 20))
    labels[14, 68, 80] = AORTA  # one voxel, 30 mm below the aorta's lowest slice (20), in soft tissue
    ct[14:20, 60:75, 75:85] = 40
    out = _run(labels, ct, ["aorta:bridge"])
    np.testing.assert_array_equal(out, labels)
    out = _run(labels, ct, None)  # the defaults: the speck dropped, nothing added below the aorta
    assert _slices(out, AORTA)[0] >= 20


def test_empty_postprocess_specs_are_refused():
    with pytest.raises(InputError, match="empty spec; write none"):
        PostprocessOptions.parse("")
    with pytest.raises(InputError, match="aorta:none"):
        PostprocessOptions.parse(["aorta:"])


def test_lumen_follows_a_trachea_that_stops_below_the_lung_apices_up_to_them():
    # A network that found the trachea on 5 slices only (20-24): the trachea reaches above the apices (the
    # lungs' highest slice, 31), so its air column is followed up to there, and no higher (the larynx and
    # where SegTHOR's trachea starts stay the network's call).
    ct, _ = chest()
    labels = np.zeros(SHAPE, np.uint8)
    labels[20:25, LUMEN_FRONT_HALF] = TRACHEA
    out = _run(labels, ct, ["trachea:lumen", "heart:lungs"])  # heart:lungs makes the lungs be looked for
    assert _slices(out, TRACHEA) == list(range(20, HIGHEST_LUNG + 1))
    assert (out[25 : HIGHEST_LUNG + 1][:, LUMEN] == TRACHEA).all()
    # Without lungs found, nothing is added above the prediction.
    no_lungs = np.where(ct == -850, 40, ct).astype(ct.dtype)
    assert _slices(_run(labels, no_lungs, ["trachea:lumen", "heart:lungs"]), TRACHEA) == list(range(20, 25))


def test_lumen_removes_trachea_pieces_without_air():
    # Found on a real CT: a checkpoint labelled a soft-tissue structure beside the trachea "trachea" on 25 slices,
    # the largest piece, so keeping the largest piece kept it and dropped the true, air-filled trachea above.
    ct, _ = chest()
    labels = np.zeros(SHAPE, np.uint8)
    labels[22:44, LUMEN_FRONT_HALF] = TRACHEA
    labels[22:30, _disk(20, 56, 4)] = TRACHEA  # soft tissue in front of the trachea, no air in or beside it
    out = _run(labels, ct, ["trachea:lumen"])
    assert not (out[22:30][:, _disk(20, 56, 4)] == TRACHEA).any()
    assert (out[22:44][:, LUMEN] == TRACHEA).all()


def _fat_slice(noise: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """One slice [1, P, L] at 0.8 mm: mediastinal fat (-100 HU) around an esophagus (muscle, 40 HU, radius 7 mm)
    with an air lumen (radius 2.5 mm) whose partial-volume rim passes through fat's range, beside the lung."""
    ct = np.full((1, SHAPE[1], SHAPE[2]), -100, np.int16)
    ct[0, _disk(44, 56, 7)] = 40
    ct[0, _disk(44, 56, 3.3)] = -400  # the lumen's rim: half air, half wall
    ct[0, _disk(44, 56, 2.5)] = -1000
    ct[0, :, :20] = -850  # lung at the left edge
    if noise:
        ct = ct + np.random.default_rng(3).normal(0, 25, ct.shape).astype(np.int16)
    return ct, _disk(44, 56, 7)[None]


def test_fat_peels_fat_from_outside_the_esophagus_and_keeps_its_wall_and_lumen():
    from segthor.inference.anatomy_rules import peel_fat

    for noise in (False, True):
        ct, wall = _fat_slice(noise)
        predicted = _disk(44, 56, 11)[None] & ~_disk(44, 56, 2.5)[None]  # 4 mm of fat around it, lumen a hole
        peeled = peel_fat(predicted, ct, (PIXEL_MM, PIXEL_MM))
        # The 4 mm of fat goes; the wall stays (a border voxel of noisy wall is read through the median); the
        # lumen's rim, inside the organ, is not peeled, and the hole stays a hole.
        assert not (peeled & ~wall).any()
        assert peeled.sum() >= 0.97 * (wall & predicted).sum(), noise
        assert not peeled[0][_disk(44, 56, 2.5)].any()


def test_fat_peels_at_most_fat_peel_mm_and_never_adds():
    from segthor.inference.anatomy_rules import FAT_PEEL_MM, peel_fat

    ct = np.full((1, 60, 60), -100, np.int16)  # all fat
    predicted = np.zeros(ct.shape, bool)
    predicted[0, 10:50, 10:50] = True  # 40 x 40 voxels of 1 mm
    peeled = peel_fat(predicted, ct, (1.0, 1.0))
    depth = int(FAT_PEEL_MM)
    assert peeled[0, 10 + depth : 50 - depth, 10 + depth : 50 - depth].all()
    assert peeled.sum() == (40 - 2 * depth) ** 2
    assert not (peeled & ~predicted).any()
    nothing = peel_fat(np.zeros(ct.shape, bool), ct, (1.0, 1.0))
    assert not nothing.any()


def test_fat_applies_to_the_esophagus_and_aorta_and_runs_in_the_clean_up():
    with pytest.raises(InputError, match="applies to esophagus, aorta only"):
        PostprocessOptions.parse("heart:fat")
    with pytest.raises(InputError, match="applies to esophagus, aorta only"):
        PostprocessOptions.parse("trachea:fat")
    assert "fat" in PostprocessOptions.default().for_organ("esophagus")
    assert "fat" in PostprocessOptions.default().for_organ("aorta")
    ct, labels = chest()
    # A ring of fat around the esophagus (below the lungs), labelled esophagus by the "network".
    ring = _disk(50, 56, 8) & ~ESOPHAGUS_DISK & ~AORTA_DISK
    ct[2:8, ring] = -100
    noisy = labels.copy()
    noisy[2:8][:, ring] = ESOPHAGUS
    out = _run(noisy, ct, "esophagus:fat")
    np.testing.assert_array_equal(out == ESOPHAGUS, labels == ESOPHAGUS)
    np.testing.assert_array_equal(out[noisy != ESOPHAGUS], noisy[noisy != ESOPHAGUS])  # nothing else changes


def test_fat_peels_at_most_fat_peel_mm_with_anisotropic_pixels_and_leaves_the_lung_edge():
    # A new-user pass found the depth counted in passes of the smaller pixel: 30 mm of fat peeled along 3 mm
    # pixels (a CT stored as sagittal slices) where 10 mm was the limit.
    from segthor.inference.anatomy_rules import FAT_PEEL_MM, peel_fat

    ct = np.full((1, 200, 60), -100, np.int16)  # fat; pixels 0.5 mm (P) x 3 mm (L)
    predicted = np.zeros(ct.shape, bool)
    predicted[0, 20:180, 10:50] = True  # 80 mm x 120 mm of fat labelled
    peeled = peel_fat(predicted, ct, (0.5, 3.0))
    ps, ls = np.nonzero(peeled[0])
    assert ps.min() == 20 + int(FAT_PEEL_MM / 0.5) and ps.max() == 179 - int(FAT_PEEL_MM / 0.5)
    assert ls.min() == 10 + int(FAT_PEEL_MM / 3.0) and ls.max() == 49 - int(FAT_PEEL_MM / 3.0)
    # A partial-volume rim against the lung (-300 HU: more tissue than lung) is not fat: the lungs rule's.
    ct2 = np.full((1, 40, 40), -850, np.int16)
    ct2[0, 10:30, 10:30] = 40
    ct2[0, 9, 10:30] = -300
    organ = np.zeros(ct2.shape, bool)
    organ[0, 9:30, 10:30] = True
    assert np.array_equal(peel_fat(organ, ct2, (1.0, 1.0)), organ)


def test_lumen_trims_the_trachea_to_its_lumen_and_a_wall_of_at_most_3_mm():
    # Found on held-out phantoms: the network drew the trachea 2-3 mm thicker all round than its wall (1-3 mm on
    # CT), the tissue around it. The chest's trachea: lumen radius 6 mm, wall to 8 mm, in soft tissue.
    ct, _ = chest()
    labels = np.zeros(SHAPE, np.uint8)
    # Lumen, wall and 5 mm of the tissue around it, reaching into both lungs on slices 22-31: a lung the trachea
    # touches is not its lumen, so what lies in it goes too.
    labels[22:44, _disk(34, 56, 13)] = TRACHEA
    out = _run(labels, ct, ["trachea:lumen"])
    kept = out[22:44] == TRACHEA
    assert kept[:, _disk(34, 56, 8)].all()  # lumen and wall stay
    assert not kept[:, ~_disk(34, 56, 6 + TRACHEA_WALL_MM)].any()  # nothing more than 3 mm past the lumen
    assert kept[:, _disk(34, 56, 6 + TRACHEA_WALL_MM - PIXEL_MM)].all()


def test_trim_wall_measures_in_mm_with_anisotropic_pixels_and_leaves_airless_slices():
    # Pixels 0.5 mm (P) x 2 mm (L): 3 mm is 6 pixels along P and 1 along L.
    hu = np.full((2, 40, 20), -100, np.int16)  # fat around the lumen
    hu[:, 18:22, 9:11] = -1000  # the lumen
    hu[1] = -100  # a slice without air: left alone
    mask = np.ones((2, 40, 20), bool)
    out = trim_wall(mask, hu, (0.5, 2.0))
    ps, ls = np.nonzero(out[0])
    assert (ps.min(), ps.max(), ls.min(), ls.max()) == (12, 27, 8, 11)
    assert out[1].all()
    assert not (out & ~mask).any()


def _section(shape: tuple[int, int] = (64, 64), pixel: float = 0.5):
    """A one-slice [1, P, L] builder at `pixel` mm: (HU filled with fat, disk(centre_p, centre_l, r) in mm)."""
    p, lat = np.ogrid[0 : shape[0], 0 : shape[1]]
    hu = np.full((1, *shape), -100, np.int16)

    def disk(cp: float, cl: float, r: float) -> np.ndarray:
        return (p * pixel - cp) ** 2 + (lat * pixel - cl) ** 2 <= r**2

    return hu, disk


@pytest.mark.parametrize("around_tube", ["fluid", "air"])
def test_trim_wall_keeps_an_intubated_trachea_whole(around_tube):
    # Found in review: an endotracheal tube (air inside radius 4 mm, plastic wall to 5.5 mm) in a trachea whose
    # lumen (radius 9 mm, wall to 11 mm) holds secretions around it was cut to 3 mm around the tube's air
    # (radius 7 mm): the air is not the whole lumen. Tissue density is not trimmed, only the fat beyond.
    hu, disk = _section()
    hu[0, disk(16, 16, 11)] = 40  # the tracheal wall
    hu[0, disk(16, 16, 9)] = 10 if around_tube == "fluid" else -1000
    hu[0, disk(16, 16, 5.5)] = 60  # the tube's wall
    hu[0, disk(16, 16, 4)] = -1000  # air inside the tube
    predicted = disk(16, 16, 13)[None]  # 2 mm of fat too many
    out = trim_wall(predicted, hu, (0.5, 0.5))
    if around_tube == "fluid":  # the trachea to its outer wall; the fat beyond, > 3 mm from the tube's air, goes
        assert np.array_equal(out[0], disk(16, 16, 11))
    else:  # the lumen reaches 9 mm: 3 mm past it, less a pixel, all kept, and no more than 3 mm
        assert out[0][disk(16, 16, 11.5)].all() and not out[0][~disk(16, 16, 12.1)].any()


def test_trim_wall_keeps_a_thick_wall_that_narrows_the_lumen():
    # A wall thickened to 7 mm (tracheitis, amyloidosis, a tumour) with a calcified cartilage ring in it narrows
    # the air column to 8 mm, below any normal adult trachea's 10 mm: only the fat drawn beyond the wall goes
    # (was: the wall cut to 3 mm past the air).
    hu, disk = _section()
    hu[0, disk(16, 16, 11)] = 40
    hu[0, disk(16, 16, 7) & ~disk(16, 16, 6)] = 500  # calcified ring
    hu[0, disk(16, 16, 4)] = -1000
    out = trim_wall(disk(16, 16, 13)[None], hu, (0.5, 0.5))
    assert np.array_equal(out[0], disk(16, 16, 11))


def test_trim_wall_takes_the_main_bronchi_together_for_the_lumen_size():
    # Below the carina each main bronchus is narrower than the trachea, their air together is not: around two
    # bronchi of 8 mm (50 mm^2 each) the wall's bound holds, so the tissue drawn beyond 3 mm goes.
    hu, disk = _section((64, 96))
    hu[0] = 40
    for centre in (14, 34):
        hu[0, disk(16, centre, 4)] = -1000
    out = trim_wall((disk(16, 14, 9) | disk(16, 34, 9))[None], hu, (0.5, 0.5))
    assert not out[0][~(disk(16, 14, 7.1) | disk(16, 34, 7.1))].any()
    assert out[0][disk(16, 14, 6.5) | disk(16, 34, 6.5)].all()


def test_trim_wall_leaves_a_main_bronchus_whose_air_joins_the_lung():
    # Below the carina: two main bronchi (lumen radius 5 mm, wall 2 mm, 2 mm of fat too many). On this slice the
    # left one's air runs into the lung, so it is not a lumen to measure from: its piece is left as predicted
    # (was: removed whole, more than 3 mm from the right bronchus's lumen); the right one is trimmed.
    hu, disk = _section((80, 160))
    for centre in (14, 34):
        hu[0, disk(16, centre, 7)] = 40
        hu[0, disk(16, centre, 5)] = -1000
    hu[0, 2:78, 82:158] = -850  # the left lung
    hu[0, 30:34, 70:82] = -1000  # the bronchus's air joined to the lung through a gap in its wall
    predicted = (disk(16, 14, 9) | disk(16, 34, 9))[None]
    out = trim_wall(predicted, hu, (0.5, 0.5))
    assert np.array_equal(out[0] & disk(16, 34, 9), disk(16, 34, 9))  # left: as predicted
    right = out[0] & disk(16, 14, 9)  # right: 3 mm past its lumen, less a pixel, all kept, and no more
    assert right[disk(16, 14, 7.5)].all() and not right[~disk(16, 14, 8.1)].any()


def test_trim_wall_does_not_take_a_lung_cut_by_the_box_for_the_lumen():
    # The caller's box (the trachea plus a margin) can cut a lung beside the trachea to a region no larger than the
    # trachea's cross-section: it reaches the box's edge, so it is not a lumen, and the trachea drawn into it is
    # trimmed there (was: kept, the lung sliver counted as lumen).
    hu, disk = _section()
    hu[0, disk(16, 16, 8)] = 40
    hu[0, disk(16, 16, 6)] = -1000
    hu[0, 10:54, 52:64] = -850  # a lung, cut by the right edge: 528 voxels
    predicted = disk(16, 16, 8)
    predicted[24:40, 32:60] = True  # drawn into the lung (937 voxels in all)
    out = trim_wall(predicted[None], hu, (0.5, 0.5))
    assert not out[0][~disk(16, 16, 9.1)].any()  # nothing more than 3 mm past the lumen (fat or lung)
    assert out[0][predicted & disk(16, 16, 8.5)].all()


@pytest.mark.parametrize(
    "direction",
    [np.eye(3), np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])],  # axial; sagittal slices
    ids=["axial", "sagittal"],
)
def test_the_wall_is_measured_along_the_patient_axes_whatever_the_storage(direction):
    # Pixels 0.5 mm front-to-back (P) and 1 mm across (L), the CT stored as axial or as sagittal slices: 3 mm is
    # 6 pixels along P and 3 along L of the patient frame, whichever array axes hold them.
    ct = np.full((3, 60, 40), 40, np.int16)
    ct[:, 20:40, 15:25] = -1000  # a lumen of 10 x 10 mm in soft tissue
    labels = np.zeros(ct.shape, np.uint8)
    labels[:, 4:56, 5:35] = TRACHEA
    spacing_spl = (2.0, 0.5, 1.0)
    volume = _stored(ct, direction, spacing_spl)
    out = apply_hu_rules(_stored(labels, direction, spacing_spl).array, volume, {TRACHEA: ("lumen",)})
    kept = PatientFrame.of(volume).view(out) == TRACHEA
    ps, ls = np.nonzero(kept.any(axis=0))
    assert (ps.min(), ps.max(), ls.min(), ls.max()) == (14, 45, 12, 27)


def _arch(seam_px: int, apart_mm: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """(CT, aorta labels) [S, P, L]: an ascending and a descending aorta (12 mm disks) on slices 0-19, joined on
    slices 17-18 by an arch (a bar between them) that a seam `seam_px` columns wide splits on every slice;
    `apart_mm` > 0: no arch, the two that far apart (a scan ending below the arch)."""
    ct = np.full((20, 90, 120), 40, np.int16)
    labels = np.zeros(ct.shape, np.uint8)
    p, lat = np.ogrid[0:90, 0:120]
    gap_px = int(round(apart_mm / PIXEL_MM)) if apart_mm else 0
    left = 30
    right = left + 30 + gap_px  # 30 px = 24 mm between the centres (12 mm between the walls)
    for centre in (left, right):
        labels[:, ((p - 45) * PIXEL_MM) ** 2 + ((lat - centre) * PIXEL_MM) ** 2 <= 6.0**2] = AORTA
    if not apart_mm:
        labels[17:19, 40:51, left : right + 1] = AORTA
        mid = (left + right) // 2
        labels[:, :, mid : mid + seam_px] = 0
    return ct, labels


def test_bridge_joins_an_aortic_arch_split_by_a_seam():
    # Found on the real CT made noisier (bench_real_ct_variants.py, low_dose): the arch's middle went missing on
    # every slice, leaving the ascending and the descending aorta as two pieces 2 mm apart (38 % of the aorta
    # outside its largest piece).
    from scipy import ndimage

    ct, labels = _arch(seam_px=3)  # 2.4 mm
    assert ndimage.label(labels == AORTA, structure=np.ones((3, 3, 3)))[1] == 2
    out = _run(labels, ct, ["aorta:bridge"])
    assert ndimage.label(out == AORTA, structure=np.ones((3, 3, 3)))[1] == 1
    added = (out == AORTA) & (labels != AORTA)
    assert 0 < added.sum() <= 2 * 3 * 11 and set(np.flatnonzero(added.any(axis=(1, 2)))) <= {17, 18}


@pytest.mark.parametrize("case", ["wide_seam", "below_the_arch", "air_in_the_seam"])
def test_bridge_leaves_pieces_side_by_side_that_are_not_one_tube(case):
    if case == "wide_seam":
        ct, labels = _arch(seam_px=10)  # 8 mm: more than SEAM_MM
    elif case == "below_the_arch":
        ct, labels = _arch(seam_px=0, apart_mm=10.0)  # walls 22 mm apart, no arch
    else:
        ct, labels = _arch(seam_px=3)
        ct[:, :, 44:47] = -1000  # air (a bronchus) where the seam is
    out = _run(labels, ct, ["aorta:bridge"])
    np.testing.assert_array_equal(out, labels)


@pytest.mark.parametrize(("apart_l_px", "joined"), [(8, True), (9, False)])
def test_seams_are_measured_in_mm_up_to_seam_mm_exactly(apart_l_px, joined):
    # Pixels 1 mm along P and 0.5 mm along L; two tubes whose nearest corners lie 3 mm along P and 8 px (4 mm) along
    # L apart: 5 mm, SEAM_MM (joined); 9 px: 5.4 mm (not). The rule measures only where the pieces' boxes on a
    # slice come within SEAM_MM: the boxes' distance may never exceed the pieces' own.
    from segthor.inference.anatomy_rules import SEAM_MM, join_seams

    assert SEAM_MM == 5.0
    mask = np.zeros((10, 60, 90), bool)
    mask[:, 10:26, 10:34] = True  # 16 x 12 mm, 10 slices of 2.5 mm: 4.8 ml
    mask[:, 28:44, 33 + apart_l_px : 57 + apart_l_px] = True
    hu = np.full(mask.shape, 40, np.int16)
    seam = join_seams(mask, hu, ~mask, (2.5, 1.0, 0.5))
    assert seam.any() == joined
    if joined:
        assert np.flatnonzero(seam.any(axis=(1, 2))).tolist() == [0]  # on one slice (the first of the closest)
        assert not (seam & mask).any()


@pytest.mark.parametrize("field", ["image_sides", "padded_circle"])
def test_extent_leaves_organs_alone_below_lungs_that_the_field_of_view_cuts(field):
    # Found by review: with outside air found slice by slice, lungs that the field of view cut on their lower
    # slices were outside air there, the lung tissue found began above the cut, and `extent` removed the heart
    # on the slices the cut lungs span (77 % of it here). That end of the lungs is unknown: no limit there.
    ct, labels = chest()
    p, lat = np.ogrid[0 : SHAPE[1], 0 : SHAPE[2]]
    lower = slice(LOWEST_LUNG, LOWEST_LUNG + 8)
    ct[lower] = np.where(((p * PIXEL_MM - 44) / 40) ** 2 <= 1, 40, -1000)  # a body wider than the image
    ct[lower][:, (((p * PIXEL_MM - 44) / 26) ** 2 <= 1) & ((lat < 38) | (lat >= 102))] = -850  # the lungs, cut
    if field == "padded_circle":  # a 90 mm reconstruction circle that cuts only the lungs' wider lower slices
        ct[:, ((p * PIXEL_MM - 44) ** 2 + (lat * PIXEL_MM - 56) ** 2) > 45**2] = -3024
    air = AirRegions(ct, (SLICE_MM, PIXEL_MM, PIXEL_MM))
    assert air.lungs_found and air.lowest_lung_slice is None and air.highest_lung_slice == HIGHEST_LUNG
    out = _run(labels, ct, ["heart:extent", "aorta:extent", "esophagus:extent"])
    np.testing.assert_array_equal(out, labels)
    # The apex is still known: the trachea more than 50 mm above it goes.
    assert _slices(_run(labels, ct, ["trachea:extent"]), TRACHEA)[-1] == HIGHEST_LUNG + 10
