"""Phantom generator v2 (organ shapes from the HRA template): determinism, anatomy, labels, spacing, CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest

from segthor.cli.main import main
from segthor.phantom.tissue import Tissue
from segthor.phantom.v2.anatomy import build_anatomy_v2
from segthor.phantom.v2.generator import generate_case_v2, prepare
from segthor.phantom.v2.params import draw_params_v2

ESOPHAGUS, HEART, TRACHEA, AORTA = 1, 2, 3, 4


@pytest.fixture(scope="module")
def v2_anatomy():
    """One small v2 case (128 px, about 4.5 mm voxels): parameters, grid, layout and noiseless anatomy."""
    p = draw_params_v2(4, size=128, n_slices=64)
    _, _, grid, lay = prepare(p)
    return p, grid, lay, build_anatomy_v2(p, grid, lay)


@pytest.fixture(scope="module")
def v2_medial_aorta():
    """The same case with its descending aorta's centre 3 mm left of the midline (an older patient's)."""
    p = draw_params_v2(4, size=128, n_slices=64, v2_aorta_desc_x_mm=3.0)
    _, _, grid, lay = prepare(p)
    return p, grid, lay, build_anatomy_v2(p, grid, lay)


def test_same_seed_same_arrays_and_other_seed_differs():
    a = generate_case_v2(21, size=64, n_slices=24)
    b = generate_case_v2(21, size=64, n_slices=24)
    c = generate_case_v2(22, size=64, n_slices=24)
    assert np.array_equal(a.ct.array, b.ct.array) and np.array_equal(a.labels.array, b.labels.array)
    assert not np.array_equal(a.ct.array, c.ct.array)


def test_spacing_and_size_are_honoured():
    case = generate_case_v2(5, size=80, n_slices=30)
    p = case.params
    assert case.ct.shape_xyz == (80, 80, 30) == case.labels.shape_xyz
    assert case.ct.spacing == pytest.approx((p["spacing_xy"], p["spacing_xy"], p["spacing_z"]))
    assert case.params["generator"] == "v2"
    assert set(np.unique(case.labels.array)) == {0, 1, 2, 3, 4}


def test_trachea_label_is_air_and_lungs_are_not_labelled(v2_anatomy):
    _, _, _, anat = v2_anatomy
    labels, tissue = anat.label_map(), anat.tissue
    in_trachea = tissue[labels == TRACHEA]
    # Lumen plus a 2 mm wall on 4.5 mm voxels: most of the label is air.
    assert np.mean(in_trachea == Tissue.AIRWAY) > 0.5
    assert not np.any(tissue[labels > 0] == Tissue.LUNG)


def test_arch_above_heart_and_trachea_stops_2cm_below_carina(v2_anatomy):
    _, grid, lay, anat = v2_anatomy
    labels = anat.label_map()
    zs = grid.axis("z")

    def top(label: int) -> float:
        return float(zs[np.nonzero((labels == label).any(axis=(1, 2)))[0].max()])

    def bottom(label: int) -> float:
        return float(zs[np.nonzero((labels == label).any(axis=(1, 2)))[0].min()])

    assert top(AORTA) > top(HEART) + 20.0
    assert bottom(TRACHEA) >= lay.carina[2] - 20.0 - grid.spacing[2]
    assert top(TRACHEA) > lay.carina[2] + 60.0


def test_esophagus_behind_trachea_and_in_front_of_spine(v2_anatomy):
    _, grid, lay, anat = v2_anatomy
    labels = anat.label_map()
    ys, zs = grid.axis("y"), grid.axis("z")
    both = 0
    for k in range(labels.shape[0]):
        e = np.nonzero(labels[k] == ESOPHAGUS)[0]
        t = np.nonzero(labels[k] == TRACHEA)[0]
        if len(e):  # within half a voxel (the esophagus is stamped by voxel centres)
            assert ys[e].max() <= float(lay.spine_front(zs[k])) + 0.5 * grid.spacing[1] + 1.0
        if len(e) and len(t) and zs[k] > lay.carina[2]:
            both += 1
            assert ys[e].mean() > ys[t].mean()
    assert both >= 5


@pytest.mark.parametrize("case", ["v2_anatomy", "v2_medial_aorta"])
def test_descending_aorta_lies_against_the_vertebral_body_at_mid_heart_level(case, request):
    """Adults: the descending aorta touches the vertebral body's front or left antero-lateral surface, its centre
    0-30 mm left of the midline at T5-T9, with the esophagus right of and in front of it."""
    from scipy import ndimage as ndi

    p, grid, lay, anat = request.getfixturevalue(case)
    labels, tissue = anat.label_map(), anat.tissue
    xs, ys, zs = grid.axis("x"), grid.axis("y"), grid.axis("z")
    X, Y = np.meshgrid(xs, ys)
    heart_k = np.nonzero((labels == HEART).any(axis=(1, 2)))[0]
    for f in (0.4, 0.5, 0.6):
        k = heart_k[0] + int(f * (heart_k[-1] - heart_k[0]))
        front = float(lay.spine_front(zs[k]))
        # The vertebral column: bone within the bodies' box (not the ribs), this slice and its neighbours (a slice
        # through a disc has none).
        ry = p["vertebra_ry_mm"]
        body = (np.abs(X) < p["vertebra_rx_mm"] + 4) & (np.abs(Y - (front + ry - 1.0)) < ry + 3.0)
        near = tissue[max(k - 1, 0) : k + 2]
        bone = np.isin(near, [Tissue.BONE_CORTEX, Tissue.BONE_TRABECULAR]).any(axis=0) & body
        aorta, eso = labels[k] == AORTA, labels[k] == ESOPHAGUS
        assert bone.any() and aorta.any() and eso.any()
        dist = ndi.distance_transform_edt(~bone, sampling=(grid.spacing[1], grid.spacing[0]))
        gap = float(dist[aorta].min()) - grid.spacing[0]  # centre to centre, less one pixel: wall to wall
        assert gap <= 6.0, (zs[k], gap)
        target = p["v2_aorta_desc_x_mm"]
        assert -5.0 <= X[aorta].mean() <= 35.0, (zs[k], X[aorta].mean())  # the spine's centre is x = 0
        assert abs(X[aorta].mean() - target) <= 8.0, (zs[k], X[aorta].mean(), target)
        assert X[eso].mean() < X[aorta].mean() - 8.0 and Y[eso].mean() < Y[aorta].mean()


def test_esophagus_label_has_adult_cross_section_and_v1_sizes_are_unchanged():
    from segthor.phantom.params import draw_params

    for seed in range(6):
        p = draw_params_v2(seed, size=64)
        area = np.pi * p["esophagus_rx_mm"] * p["esophagus_ry_mm"]  # wall included, as SegTHOR labels it
        assert 110.0 <= area <= 200.0 and 15.0 <= 2 * p["esophagus_rx_mm"] <= 20.0
        v1 = draw_params(seed, 64)
        assert 6.0 <= v1["esophagus_rx_mm"] <= 8.0 and 4.0 <= v1["esophagus_ry_mm"] <= 5.5
    assert draw_params_v2(1, size=64, esophagus_rx_mm=7.0)["esophagus_rx_mm"] == 7.0


def test_touching_offset_puts_a_circle_against_an_ellipse():
    from segthor.phantom.v2.aorta import touching_offset

    # A circle straight in front of the ellipse: its centre r + gap in front of the front.
    assert touching_offset(0.0, 10.0, 18.0, 15.0, 2.0) == pytest.approx(-12.0, abs=0.3)
    # Beside it: level with the ellipse's centre.
    assert touching_offset(40.0, 10.0, 18.0, 15.0, 2.0) == 15.0
    # At 25 mm (the aorta's place): between the two, and the wall gap is as asked.
    k = touching_offset(25.0, 11.0, 18.0, 15.0, 1.0)
    th = np.linspace(0, 2 * np.pi, 2000)
    d = np.hypot(25.0 - 18.0 * np.cos(th), k - 15.0 - 15.0 * np.sin(th)).min()
    assert -12.0 < k < 15.0 and d == pytest.approx(12.0, abs=0.3)


def test_heart_has_adult_volume_and_organs_are_single_pieces(v2_anatomy):
    from scipy import ndimage as ndi

    _, grid, _, anat = v2_anatomy
    labels = anat.label_map()
    ml = np.prod(grid.spacing) / 1000.0
    assert 350.0 < np.sum(labels == HEART) * ml < 1100.0
    for label in (ESOPHAGUS, HEART, TRACHEA, AORTA):
        pieces, n = ndi.label(labels == label)
        sizes = np.bincount(pieces.ravel())[1:]
        assert n >= 1 and sizes.max() / sizes.sum() > 0.95, label


def test_contrast_phases_and_domain_randomisation_change_hu():
    plain = generate_case_v2(8, size=64, n_slices=24, phase="non_contrast", noise_sd_hu=0.0)
    arterial = generate_case_v2(8, size=64, n_slices=24, phase="arterial", noise_sd_hu=0.0)
    rand = generate_case_v2(8, size=64, n_slices=24, phase="arterial", domain_random=True)
    aorta = arterial.labels.array == AORTA
    assert arterial.ct.array[aorta].mean() > plain.ct.array[aorta].mean() + 100
    assert arterial.params["contrast"] and not plain.params["contrast"]
    assert rand.params["domain_random"] is True
    assert np.array_equal(rand.labels.array, arterial.labels.array)
    assert not np.array_equal(rand.ct.array, arterial.ct.array)


def test_unknown_parameter_and_bad_phase_are_refused():
    from segthor.errors import InputError

    with pytest.raises(InputError, match="unknown phantom parameter"):
        draw_params_v2(1, size=64, bogus=1)
    with pytest.raises(InputError, match="phase must be one of"):
        draw_params_v2(1, size=64, phase="late")


def test_cli_writes_v2_cases(tmp_path, capsys):
    out = tmp_path / "v2"
    rc = main(
        ["phantom", str(out), "--cases", "1", "--seed", "3", "--size", "48", "--slices", "20", "--generator", "v2"]
    )
    assert rc == 0
    meta = json.loads((out / "Patient_01" / "Patient_01.json").read_text())
    assert meta["generator"] == "segthor.phantom v2"
    assert meta["parameters"]["phase"] in ("non_contrast", "arterial", "venous")
    assert (out / "Patient_01" / "GT.nii.gz").is_file() and (out / "Patient_01" / "Patient_01.nii.gz").is_file()
    rc = main(["phantom", str(tmp_path / "v1"), "--size", "48", "--slices", "20", "--domain-random"])
    assert rc == 2
    assert "needs generator v2" in capsys.readouterr().err


def test_context_and_pathology_are_painted_but_never_labelled():
    p = draw_params_v2(
        9, size=96, n_slices=48, pacemaker=True, tumour_mm=30.0, effusion="left", plaques=5, lymph_nodes=6, arms="down"
    )
    _, _, grid, lay = prepare(p)
    anat = build_anatomy_v2(p, grid, lay)
    tissue, labels = anat.tissue, anat.label_map()
    for kind in (Tissue.TABLE, Tissue.METAL, Tissue.TUMOUR, Tissue.FLUID, Tissue.LYMPH_NODE):
        assert np.any(tissue == kind), kind.name
    # Context stays out of the labels, except metal inside the heart (a lead in the right ventricle) and
    # calcified plaque in the aortic wall, which SegTHOR contours as part of those organs.
    for kind in (Tissue.TABLE, Tissue.TUMOUR, Tissue.FLUID, Tissue.LYMPH_NODE, Tissue.LUNG):
        assert not np.any(labels[tissue == kind]), kind.name
    assert anat.metal_points


def test_default_acquisition_ranges_are_wider_than_segthor():
    draws = [draw_params_v2(seed) for seed in range(30)]
    pixels = [p["spacing_xy"] for p in draws]
    slices = [p["spacing_z"] for p in draws]
    assert min(pixels) >= 0.68 and max(pixels) <= 1.4
    assert min(slices) >= 1.25 and max(slices) <= 5.0 and max(p["n_slices"] for p in draws) <= 320
    assert min(pixels) < 0.9 and max(slices) > 3.7  # beyond SegTHOR's 0.90-1.37 mm and 2-3.7 mm


def test_cli_v2_files_are_byte_identical_for_the_same_seed(tmp_path):
    import hashlib

    argv = ["--seed", "6", "--size", "40", "--slices", "16", "--generator", "v2", "--domain-random"]
    digests = []
    for name in ("a", "b"):
        assert main(["phantom", str(tmp_path / name), *argv]) == 0
        case = tmp_path / name / "Patient_01"
        digests.append(
            [hashlib.sha256((case / f).read_bytes()).hexdigest() for f in ("Patient_01.nii.gz", "GT.nii.gz")]
        )
    assert digests[0] == digests[1]
    meta = json.loads((tmp_path / "a" / "Patient_01" / "Patient_01.json").read_text())
    assert meta["parameters"]["domain_random"] is True and "CC BY 4.0" in meta["parameters"]["template_note"]


def test_esophagus_is_drawn_and_labelled_up_to_c4_above_the_tracheas_start():
    """SegTHOR labels the esophagus from C4 and the trachea from the larynx's lower limit (C6): the esophagus
    label reaches at least as high as the trachea's. Found on generated cases: the template's esophagus path
    could end ~70 mm above the carina, below the larynx, so its label stopped 20-50 mm below the trachea's."""
    for seed in (3, 7):
        p = draw_params_v2(seed, size=96, n_slices=48)
        _, _, grid, lay = prepare(p)
        anatomy = build_anatomy_v2(p, grid, lay)
        labels, zs = anatomy.label_map(), grid.axis("z")
        top = {k: zs[np.nonzero((labels == k).any(axis=(1, 2)))[0][-1]] for k in (ESOPHAGUS, TRACHEA)}
        assert top[ESOPHAGUS] >= top[TRACHEA] - grid.spacing[2], (seed, top)
        drawn = np.nonzero((anatomy.tissue == Tissue.ESOPHAGUS).any(axis=(1, 2)))[0]
        assert zs[drawn[-1]] >= zs[-1] - grid.spacing[2]  # the tube runs on to the scan's top


def test_posterior_mediastinum_fills_narrow_gaps_with_fat_and_leaves_wide_ones_lung():
    from types import SimpleNamespace

    from segthor.phantom.grid import Grid
    from segthor.phantom.shapes import BoxMask
    from segthor.phantom.v2.extras import paint_posterior_mediastinum

    # 1 mm pixels, 3 slices at z = 0, 5, 10 mm; x and y run from -40 to 39 mm.
    grid = Grid((3, 80, 80), (1.0, 1.0, 5.0), (0.0, 0.0, 0.0), 0.0)
    tissue = np.full(grid.shape, Tissue.LUNG, np.uint8)
    xs, ys = grid.axis("x"), grid.axis("y")
    disk = lambda cx, cy, r: ((xs[None, :] - cx) ** 2 + (ys[:, None] - cy) ** 2) <= r * r  # noqa: E731
    # Esophagus 6 mm in front of the vertebral body (front at y = 20 mm); a far organ 20 mm to the side.
    near = disk(0.0, 8.0, 5.0)
    far = disk(-32.0, 8.0, 5.0)
    tissue[:, disk(0.0, 32.0, 12.0)] = Tissue.BONE_TRABECULAR
    organs = BoxMask((0, 0, 0), np.broadcast_to(near | far, grid.shape).copy())
    lay = SimpleNamespace(spine_front=lambda z: 20.0)
    paint_posterior_mediastinum(tissue, grid, lay, {"v2_mediastinum_close_mm": 6.0}, [organs], (0.0, 5.0))
    gap = (xs[None, :] == 0.0) & (ys[:, None] > 14.0) & (ys[:, None] < 19.0)  # between esophagus and bone
    assert np.all(tissue[0][gap] == Tissue.FAT) and np.all(tissue[1][gap] == Tissue.FAT)
    assert np.all(tissue[2][gap] == Tissue.LUNG)  # z = 10 mm lies outside the range
    wide = (np.abs(xs[None, :] + 16.0) < 2.0) & (np.abs(ys[:, None] - 8.0) < 2.0)  # 22 mm between the organs
    assert np.all(tissue[0][wide] == Tissue.LUNG)


def test_azygos_vein_runs_right_of_the_midline_in_front_of_the_spine_unlabelled(v2_anatomy):
    p, grid, lay, anat = v2_anatomy
    zs, xs, ys = grid.axis("z"), grid.axis("x"), grid.axis("y")
    k = int(np.argmin(np.abs(zs - (lay.z_gej + 40.0))))  # the lower thorax, below the arch
    front = float(lay.spine_front(zs[k]))
    # Venous blood right of the midline and within a vein's width of the vertebral body's front: no heart
    # chamber reaches there, only the azygos.
    behind = (xs[None, :] < 0.0) & (ys[:, None] > front - 2.0 * float(p["azygos_radius_mm"]) - 3.0)
    assert np.any(anat.tissue[k][behind] == Tissue.RIGHT_BLOOD)
    assert not np.any(anat.label_map()[anat.tissue == Tissue.RIGHT_BLOOD] == ESOPHAGUS)


def test_azygos_lies_right_of_an_esophagus_pushed_right_by_a_midline_aorta(v2_medial_aorta):
    p, grid, lay, anat = v2_medial_aorta
    zs, xs = grid.axis("z"), grid.axis("x")
    eso = lay.esophagus.points[np.argsort(lay.esophagus.points[:, 2])]
    checked = 0
    for k in range(len(zs)):
        if not (lay.z_gej + 10.0 < zs[k] < lay.carina[2] - 10.0):
            continue
        # Venous blood right of the midline within 12 mm of the vertebral bodies' front: the azygos.
        rows, cols = np.nonzero((anat.tissue[k] == Tissue.RIGHT_BLOOD) & (xs[None, :] < 0.0))
        near = cols[np.abs(grid.axis("y")[rows] - float(lay.spine_front(zs[k]))) < 12.0]
        if len(near):
            eso_x = float(np.interp(zs[k], eso[:, 2], eso[:, 0]))
            assert xs[near].max() < eso_x, (k, xs[near].max(), eso_x)
            checked += 1
    assert checked >= 3


def test_retroperitoneum_puts_fat_and_crura_around_the_abdominal_aorta_and_keeps_the_liver_off():
    from types import SimpleNamespace

    from segthor.phantom.grid import Grid
    from segthor.phantom.shapes import BoxMask
    from segthor.phantom.v2.extras import paint_retroperitoneum

    # 1 mm pixels, 12 slices 10 mm apart (z = 0 ... 110 mm): liver all round the aorta up to z = 100 mm (the
    # hiatus), lung above. The vertebral body's front lies 15 mm behind the aorta.
    grid = Grid((12, 80, 80), (1.0, 1.0, 10.0), (0.0, 0.0, 0.0), 0.0)
    xs, ys = grid.axis("x"), grid.axis("y")
    dist = np.sqrt(xs[None, :] ** 2 + ys[:, None] ** 2)  # from the aorta's centre (0, 0)
    tissue = np.full(grid.shape, Tissue.LIVER, np.uint8)
    tissue[11] = Tissue.LUNG
    bone = np.sqrt(xs[None, :] ** 2 + (ys[:, None] - 35.0) ** 2) <= 12.0
    tissue[:, bone] = Tissue.BONE_TRABECULAR
    aorta_plane = dist <= 8.0
    tissue[:, aorta_plane] = Tissue.BLOOD
    kidney = (np.abs(xs[None, :] - 10.0) < 1.0) & (np.abs(ys[:, None] + 5.0) < 1.0)
    tissue[:, kidney] = Tissue.KIDNEY  # within the fat's reach: only liver and abdomen are painted over
    aorta = BoxMask((0, 0, 0), np.broadcast_to(aorta_plane, grid.shape).copy())
    lay = SimpleNamespace(spine_front=lambda z: 23.0)
    p = {"retro_fat_mm": 2.0, "crus_mm": 5.0, "v2_mediastinum_close_mm": 10.0}
    paint_retroperitoneum(tissue, grid, lay, p, aorta)

    def where(cond):
        return np.broadcast_to(cond, aorta_plane.shape)

    front = where((np.abs(xs[None, :]) < 2.0) & (ys[:, None] < 0) & (dist > 11.5) & (dist < 14.5))
    right = where((np.abs(ys[:, None]) < 2.0) & (xs[None, :] < 0) & (dist > 11.5) & (dist < 14.5))
    left = where((np.abs(ys[:, None]) < 2.0) & (xs[None, :] > 0) & (dist > 11.5) & (dist < 14.5))
    hiatus, arch_gone, left_gone, none = tissue[10], tissue[8], tissue[3], tissue[1]  # 0, 20, 70, 90 mm below
    for below in (hiatus, arch_gone, left_gone, none):
        assert np.all(below[aorta_plane] == Tissue.BLOOD) and np.all(below[kidney] == Tissue.KIDNEY)
        assert np.all(below[(dist > 8.5) & (dist <= 9.5)] == Tissue.FAT)  # the sleeve, on every slice
        assert not np.any(below[where(ys[:, None] > 4.0)] == Tissue.MUSCLE)  # never behind the aorta
        assert not np.any(below[dist <= 8.0 + 2 * 2.0 + 5.0 - 1.0] == Tissue.LIVER)  # 1 mm for the disk's pixels
        assert np.all(
            below[where((np.abs(xs[None, :]) < 1.0) & (ys[:, None] > 18.0) & (ys[:, None] < 22.0))] == Tissue.FAT
        )
        assert np.all(below[(dist > 30.0) & ~bone] == Tissue.LIVER)
    assert np.all(hiatus[front] == Tissue.MUSCLE)  # the median arcuate ligament
    # 30 degrees from the front, where an arch would still be: fat once the crura are two side bands.
    oblique = where(
        (np.abs(np.abs(np.arctan2(xs[None, :], -ys[:, None])) - np.pi / 6) < 0.1) & (dist > 11.5) & (dist < 14.5)
    )
    assert np.all(hiatus[oblique] == Tissue.MUSCLE) and np.all(arch_gone[oblique] == Tissue.FAT)
    assert np.all(arch_gone[front] == Tissue.FAT) and np.all(arch_gone[right] == Tissue.MUSCLE)
    assert np.all(arch_gone[left] == Tissue.MUSCLE)
    assert np.all(left_gone[right] == Tissue.MUSCLE) and np.all(left_gone[left] == Tissue.FAT)  # right crus to L3
    assert not np.any(none == Tissue.MUSCLE)
    assert np.all(tissue[11][~aorta_plane & ~bone & ~kidney] == Tissue.LUNG)  # the chest


def test_abdominal_aorta_is_never_wrapped_in_liver(v2_anatomy):
    from scipy.ndimage import binary_dilation

    p, grid, lay, anat = v2_anatomy
    aorta = anat.label_map() == AORTA
    ring = np.stack([binary_dilation(a) & ~a for a in aorta])  # one voxel (4.5 mm) around it, slice by slice
    below = np.any(anat.tissue == Tissue.LIVER, axis=(1, 2))
    assert np.any(aorta[below])  # the label does run below the diaphragm
    assert not np.any(anat.tissue[ring] == Tissue.LIVER)


def test_field_of_view_circle_pads_outside_cuts_the_body_and_keeps_the_labels():
    whole = generate_case_v2(5, size=128, n_slices=32, fov_circle_mm=0.0)
    cut = generate_case_v2(5, size=128, n_slices=32, fov_circle_mm=300.0, fov_pad_hu=-2048.0)
    a, b = whole.ct.array, cut.ct.array
    pad = b == -2048
    assert np.all(pad[:, 0, 0]) and np.all(pad[:, -1, -1])  # the image's corners lie outside the circle
    assert np.array_equal(a[~pad], b[~pad])  # inside it the image is unchanged
    # The circle is 300 mm across: the padded share of each slice is 1 - pi 150^2 / (image width)^2.
    width = 128 * cut.ct.spacing[0]
    assert abs(pad[0].mean() - (1.0 - np.pi * 150.0**2 / width**2)) < 0.02
    assert np.any(a[pad] > -500)  # it cuts the body (a chest with its arms is wider than 300 mm)
    assert np.array_equal(whole.labels.array, cut.labels.array) and not np.any(cut.labels.array[pad])
    assert np.all(whole.ct.array.min() >= -1024)  # no padding without the circle


def test_field_of_view_circle_is_drawn_in_about_a_third_of_cases():
    drawn = [draw_params_v2(seed, size=128, n_slices=32)["fov_circle_mm"] for seed in range(60)]
    used = [d for d in drawn if d > 0]
    assert 8 <= len(used) <= 30 and all(320.0 <= d <= 420.0 for d in used)


def test_organs_stay_inside_the_narrowest_circle_and_labels_outside_it_are_cleared():
    from segthor.phantom.v2.appearance import field_of_view_outside

    for seed, dx, dy in ((1, 15.0, 15.0), (2, -15.0, -15.0), (3, 15.0, -15.0), (4, -15.0, 15.0)):
        p = draw_params_v2(seed, size=128, n_slices=32, fov_circle_mm=320.0, fov_offset_x_mm=dx, fov_offset_y_mm=dy)
        _, _, grid, lay = prepare(p)
        anat = build_anatomy_v2(p, grid, lay)
        outside = field_of_view_outside(anat.tissue, grid, p)
        assert outside is not None and outside.any()
        assert not np.any(anat.label_map()[:, outside])
    # Forced narrower than the organs' spread, the labels the circle cuts are dropped with the image.
    case = generate_case_v2(5, size=128, n_slices=32, fov_circle_mm=100.0, fov_pad_hu=-3024.0)
    pad = case.ct.array == -3024
    assert np.any(generate_case_v2(5, size=128, n_slices=32, fov_circle_mm=0.0).labels.array[pad])
    assert not np.any(case.labels.array[pad])


@pytest.mark.parametrize(
    "override",
    [
        {"fov_pad_hu": 1e5},
        {"fov_pad_hu": float("nan")},
        {"fov_circle_mm": 50.0},
        {"retro_fat_mm": -1.0},
        {"crus_mm": float("nan")},
        {"fov_offset_x_mm": 500.0},
    ],
)
def test_out_of_range_retroperitoneum_and_circle_overrides_are_refused(override):
    from segthor.errors import InputError

    with pytest.raises(InputError, match=next(iter(override))):
        draw_params_v2(1, size=128, n_slices=32, **override)
