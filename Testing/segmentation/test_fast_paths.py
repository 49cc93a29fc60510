"""Speed-ups of the segment pipeline give exactly what the straightforward code they replaced gave.

Each test keeps the old, plain implementation here as the reference and compares it with the shipped fast path
on small synthetic inputs (the speed itself is measured in benchmarks/bench_segment.py, docs/benchmarks.md).
"""

from __future__ import annotations

import numpy as np
import pytest

from segthor.inference import anatomy_rules
from segthor.inference.anatomy_rules import AirRegions, label_counts
from segthor.io.volume import Volume
from segthor.logic.case_report import organ_volumes_ml
from segthor.organs import ORGANS


def _reference_air_regions(
    hu_spl: np.ndarray, spacing_zyx: tuple[float, float, float]
) -> tuple[np.ndarray, int | None, int | None]:
    """The lung search as first written (always padding and copying the cells, the whole field of view labelled,
    slice by slice for the outside air; one np.bincount of all labels): (lung cells, lowest lung slice, highest
    lung slice)."""
    from scipy import ndimage

    ar = anatomy_rules
    fp, fl = (max(1, int(round(ar.CELL_MM / max(s, 1e-6)))) for s in spacing_zyx[1:])
    n_s, n_p, n_l = hu_spl.shape
    cp, cl = -(-n_p // fp), -(-n_l // fl)
    air_full = np.pad(hu_spl < ar.LUNG_HU, ((0, 0), (0, cp * fp - n_p), (0, cl * fl - n_l)), mode="edge")
    air = air_full[:, ::fp, ::fl].copy()
    for i in range(fp):
        for j in range(fl):
            if i or j:
                air &= air_full[:, i::fp, j::fl]
    for k in range(air.shape[0]):  # outside air: joined to the edge on its own slice
        flat, _ = ndimage.label(air[k])
        edge = np.unique(np.concatenate([flat[[0, -1], :].ravel(), flat[:, [0, -1]].ravel()]))
        air[k] &= ~np.isin(flat, edge[edge > 0])
    labels, count = ndimage.label(air)
    lung = np.zeros(air.shape, bool)
    if count:
        counts = np.bincount(labels.ravel(), minlength=count + 1)
        sizes = counts.astype(np.float64)
        sizes[0] = 0
        cell_ml = spacing_zyx[0] * spacing_zyx[1] * fp * spacing_zyx[2] * fl / 1000.0
        keep = sizes * cell_ml >= ar.MIN_LUNG_ML
        keep[0] = False
        if keep.any():
            lung = keep[labels]
            cell_hu = hu_spl[:, ::fp, ::fl][lung].astype(np.float64)
            hu_sums = np.bincount(labels[lung], weights=cell_hu, minlength=count + 1)
            gas = keep & (hu_sums < ar.GAS_HU * np.maximum(counts, 1))
            if gas.any():
                keep &= ~gas
                lung = keep[labels]
    area_mm2 = lung.sum(axis=(1, 2)) * spacing_zyx[1] * fp * spacing_zyx[2] * fl
    ks = np.flatnonzero(area_mm2 >= ar.MIN_LUNG_SLICE_MM2)
    return lung, (int(ks[0]) if ks.size else None), (int(ks[-1]) if ks.size else None)


def _noisy_chest(seed: int, shape: tuple[int, int, int]) -> np.ndarray:
    """[S, P, L] int16 HU: body in outside air, two lungs with noise (many small air specks and holes), a gas
    bubble below them and air reaching the far edges of the field of view."""
    rng = np.random.default_rng(seed)
    s, p, lat = np.ogrid[0 : shape[0], 0 : shape[1], 0 : shape[2]]
    ct = np.full(shape, -1000, np.int16)
    body = ((p - shape[1] / 2) / (0.45 * shape[1])) ** 2 + ((lat - shape[2] / 2) / (0.47 * shape[2])) ** 2 <= 1
    ct[np.broadcast_to(body, shape)] = 40
    for centre in (0.3, 0.7):
        lung = ((p - shape[1] / 2) / (0.3 * shape[1])) ** 2 + ((lat - centre * shape[2]) / (0.13 * shape[2])) ** 2 <= 1
        lung = lung & (s >= shape[0] // 3)
        ct[lung] = -850
    ct[: shape[0] // 4, shape[1] // 3 : shape[1] // 2, shape[2] // 2 : shape[2] // 2 + 12] = -1000  # gas
    ct = ct + rng.normal(0, 120, shape).astype(np.int16)  # speckle: air specks in the body, tissue in the lungs
    ct[:, -1, -5:] = -1000  # outside air on the far edge only
    return ct


@pytest.mark.parametrize(
    ("shape", "spacing"),
    [
        ((30, 61, 67), (5.0, 1.2, 1.2)),  # 1.2 mm pixels: every voxel a cell (the fast path)
        ((30, 91, 101), (5.0, 0.8, 0.8)),  # 0.8 mm: 2 x 2 voxel cells, odd sizes padded
        ((48, 101, 60), (2.5, 0.7, 1.5)),  # unequal factors (2, 1)
    ],
)
@pytest.mark.parametrize("seed", [0, 1])
def test_lung_search_matches_the_plain_implementation(shape, spacing, seed):
    ct = _noisy_chest(seed, shape)
    lung, lowest, highest = _reference_air_regions(ct, spacing)
    air = AirRegions(ct, spacing)
    np.testing.assert_array_equal(air.lung_cells, lung)
    assert (air.lowest_lung_slice, air.highest_lung_slice) == (lowest, highest)
    assert lung.any()  # the case tests something


def test_lung_search_matches_on_a_flipped_and_transposed_view():
    ct = _noisy_chest(2, (20, 48, 52))
    view = np.transpose(ct, (0, 2, 1))[:, ::-1, :]  # how PatientFrame views a stored array
    lung, lowest, highest = _reference_air_regions(view, (4.0, 1.3, 1.3))
    air = AirRegions(view, (4.0, 1.3, 1.3))
    np.testing.assert_array_equal(air.lung_cells, lung)
    assert (air.lowest_lung_slice, air.highest_lung_slice) == (lowest, highest)


def _small_body_in_a_wide_field(variant: str) -> np.ndarray:
    """[S, P, L] int16 HU: a chest far smaller than the field of view (the lung search labels only the box of
    the non-air cells), with what could go wrong at that box's sides."""
    rng = np.random.default_rng(7)
    shape = (26, 140, 150)
    s, p, lat = np.ogrid[0 : shape[0], 0 : shape[1], 0 : shape[2]]
    ct = np.full(shape, -1000, np.int16)
    body = ((p - 60) / 40) ** 2 + ((lat - 70) / 48) ** 2 <= 1
    ct[np.broadcast_to(body, shape)] = 40
    for centre in (48, 92):
        ct[(((p - 60) / 28) ** 2 + ((lat - centre) / 16) ** 2 <= 1) & (s >= 6)] = -850
    ct = ct + rng.normal(0, 30, shape).astype(np.int16)
    if variant == "channel":  # on a few slices the right lung opens to the outside through the body wall
        ct[10:13, 58:62, 20:40] = -1000
    elif variant == "table":  # tissue reaching the field of view's bottom edge and a speck far to the left
        ct[:, 110:116, 10:150] = 100
        ct[3, 20, 2] = 50
    elif variant == "cut":  # the body cut by the field of view's first column: the lungs reach the box's side
        ct = np.ascontiguousarray(ct[:, :, 40:])
    return ct


@pytest.mark.parametrize("variant", ["plain", "channel", "table", "cut"])
@pytest.mark.parametrize("pixel_mm", [0.8, 1.2])
def test_lung_search_in_a_wide_field_of_view_matches(variant, pixel_mm):
    ct = _small_body_in_a_wide_field(variant)
    spacing = (5.0, pixel_mm, pixel_mm)
    lung, lowest, highest = _reference_air_regions(ct, spacing)
    air = AirRegions(ct, spacing)
    np.testing.assert_array_equal(air.lung_cells, lung)
    assert (air.lowest_lung_slice, air.highest_lung_slice) == (lowest, highest)
    if variant == "plain":
        assert lung.any()


def test_lung_search_on_a_ct_of_air_only():
    ct = np.full((6, 20, 30), -1000, np.int16)
    air = AirRegions(ct, (5.0, 1.2, 1.2))
    assert not air.lung_cells.any() and air.lowest_lung_slice is None


@pytest.mark.parametrize("dtype", [np.int32, np.uint8, np.int64])
@pytest.mark.parametrize("chunk", [1, 7, 1 << 20])
def test_label_counts_is_bincount(dtype, chunk):
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 9, size=(5, 11, 13)).astype(dtype)
    labels[labels == 6] = 0  # a label with no voxel
    expected = np.bincount(labels.ravel(), minlength=10)
    got = label_counts(labels, 9, chunk=chunk)
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got, expected)


def test_organ_volumes_are_the_bincount_volumes():
    rng = np.random.default_rng(4)
    array = rng.integers(0, len(ORGANS) + 1, size=(7, 9, 11)).astype(np.uint8)
    array[array == 3] = 0  # an organ with no voxel
    volume = Volume(array, (0.77, 0.77, 2.5))
    voxel_ml = float(np.prod(volume.spacing)) / 1000.0
    counts = np.bincount(array.ravel(), minlength=len(ORGANS) + 1)
    assert organ_volumes_ml(volume) == {o.key: round(float(counts[o.label]) * voxel_ml, 3) for o in ORGANS}


@pytest.mark.parametrize("pixel_mm", [0.8, 1.2])
@pytest.mark.parametrize("lungs_reach_the_edge", [True, False])
def test_lung_search_matches_with_gas_below_the_lungs(pixel_mm, lungs_reach_the_edge):
    ct = np.full((40, 100, 100), 40, np.int16)
    ct[:, :5, :] = -1000  # outside air in front of the chest
    ct[12:36, 20:80, 0:35] = -850
    ct[12:36, 20:80, 65:100] = -850
    if not lungs_reach_the_edge:
        ct[12:36, 20:80, 0] = ct[12:36, 20:80, 99] = 40
    ct[0:11, 30:75, 52:92] = -1000  # gas: a region of 20-50 ml averaging -1000 HU
    spacing = (5.0, pixel_mm, pixel_mm)
    lung, lowest, highest = _reference_air_regions(ct, spacing)
    air = AirRegions(ct, spacing)
    np.testing.assert_array_equal(air.lung_cells, lung)
    assert (air.lowest_lung_slice, air.highest_lung_slice) == (lowest, highest)


def _sparse_labels(seed: int, shape: tuple[int, int, int], max_label: int, dtype=np.uint8) -> np.ndarray:
    rng = np.random.default_rng(seed)
    labels = np.zeros(shape, dtype)
    for label in range(1, max_label + 1):
        if label == 3:
            continue  # an absent label
        for _ in range(2):  # two pieces, so a box spans a gap
            z, y, x = (int(rng.integers(0, n)) for n in shape)
            labels[z : z + 3, y : y + 4, x : x + 2] = label
    return labels


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.int32])
def test_label_boxes_are_find_objects(seed, dtype):
    from scipy import ndimage

    from segthor.boxes import label_boxes

    labels = _sparse_labels(seed, (17, 23, 29), 5, dtype)
    labels[4, 5, 6] = 7  # above max_label: ignored by both
    assert label_boxes(labels, 5) == ndimage.find_objects(labels, max_label=5)
    view = np.transpose(labels, (0, 2, 1))[::-1, :, ::-1]  # a patient-frame view
    assert label_boxes(view, 5) == ndimage.find_objects(view, max_label=5)
    assert label_boxes(np.zeros((3, 4, 5), dtype), 4) == [None] * 4


@pytest.mark.parametrize("seed", [0, 1])
def test_nonzero_box_is_the_bounding_box(seed):
    from segthor.boxes import bounding_box, nonzero_box

    labels = _sparse_labels(seed, (11, 13, 17), 4)
    assert nonzero_box(labels) == bounding_box(labels != 0)
    assert nonzero_box(labels > 0) == bounding_box(labels > 0)
    assert nonzero_box(np.zeros((2, 3, 4), np.uint8)) is None


def test_seg_nrrd_extents_are_each_organs_bounding_box():
    from segthor.boxes import bounding_box
    from segthor.outputs.seg_nrrd import segmentation_fields

    labels = _sparse_labels(3, (12, 20, 24), 4)
    fields = segmentation_fields(Volume(labels, (0.8, 0.8, 2.5)))
    for i, organ in enumerate(ORGANS):
        box = bounding_box(labels == organ.label)  # the extent as first written, from each organ's mask
        expected = "0 -1 0 -1 0 -1" if box is None else " ".join(f"{s.start} {s.stop - 1}" for s in reversed(box))
        assert fields[f"Segment{i}_Extent"] == expected


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_preview_centre_is_the_median_of_all_labelled_voxels(seed):
    from segthor.render.overlay import _organ_centre

    labels = _sparse_labels(seed, (15, 21, 19), 4)
    fg = np.nonzero(labels)
    assert _organ_centre(labels) == tuple(int(np.median(c)) for c in fg)
    assert _organ_centre(np.zeros((4, 6, 8), np.uint8)) == (2, 3, 4)
