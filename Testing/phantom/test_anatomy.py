"""The phantoms' anatomy: HU inside each organ, where organs lie relative to each other, label sizes."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import ndimage

from segthor.organs import LABELS
from segthor.phantom.generator import generate_anatomy
from segthor.phantom.params import draw_params
from segthor.phantom.shapes import overlap_count
from segthor.phantom.tissue import Tissue


def _core(mask: np.ndarray) -> np.ndarray:
    """The mask without its in-plane rim, where blur mixes the organ with its neighbours."""
    return ndimage.binary_erosion(mask, structure=np.ones((1, 3, 3), dtype=bool))


def _median_hu(case, label: int) -> float:
    core = _core(case.labels.array == label)
    assert core.sum() > 20, f"label {label} has too few interior voxels to measure"
    return float(np.median(case.ct.array[core]))


@pytest.mark.parametrize("fixture", ["anatomy_plain", "anatomy_contrast"])
def test_hu_inside_each_label(fixture, request):
    p, anatomy, case = request.getfixturevalue(fixture)
    ct, lab = case.ct.array, case.labels.array
    # Trachea lumen: the airway voxels inside the trachea label, away from the wall.
    lumen = _core((anatomy.tissue == Tissue.AIRWAY) & (lab == LABELS["trachea"]))
    assert lumen.sum() > 10
    assert np.median(ct[lumen]) < -900
    heart, aorta = _median_hu(case, LABELS["heart"]), _median_hu(case, LABELS["aorta"])
    if p["contrast"]:
        assert heart > 90 and aorta > 140  # enhanced blood pools
    else:
        assert 20 <= heart <= 70 and 20 <= aorta <= 70  # soft tissue: told apart by shape, not HU
    assert -20 <= _median_hu(case, LABELS["esophagus"]) <= 90
    assert -900 <= np.median(ct[_core(anatomy.tissue == Tissue.LUNG)]) <= -780
    assert -130 <= np.median(ct[_core(anatomy.tissue == Tissue.FAT)]) <= -60
    bone = _core(np.isin(anatomy.tissue, [Tissue.BONE_TRABECULAR, Tissue.BONE_CORTEX]))
    assert np.median(ct[bone]) >= 300
    outside = anatomy.tissue[:, :3, :3] == Tissue.AIR
    assert np.median(ct[:, :3, :3][outside]) <= -980


def test_noise_and_blur_are_present(anatomy_plain):
    p, anatomy, case = anatomy_plain
    ct = case.ct.array.astype(float)
    liver = ndimage.binary_erosion(anatomy.tissue == Tissue.LIVER, iterations=3)
    assert liver.sum() > 200
    sd = ct[liver].std()
    assert 0.5 * p["noise_sd_hu"] <= sd <= 1.6 * p["noise_sd_hu"]
    # Partial volume: the lung/soft-tissue border has intermediate values, not a two-level step.
    values = ct[ndimage.binary_dilation(anatomy.tissue == Tissue.LUNG) & ~(anatomy.tissue == Tissue.LUNG)]
    assert np.mean((values > -700) & (values < -200)) > 0.05


def _centroid_yz(mask: np.ndarray, k: int) -> float:
    return float(np.nonzero(mask[k])[0].mean())


def test_spatial_relations(anatomy_plain, anatomy_contrast):
    for _, anatomy, case in (anatomy_plain, anatomy_contrast):
        lab = case.labels.array
        eso, heart, trachea, aorta = (lab == LABELS[k] for k in ("esophagus", "heart", "trachea", "aorta"))
        z_of = {
            k: np.nonzero(m.any(axis=(1, 2)))[0]
            for k, m in (("eso", eso), ("heart", heart), ("trachea", trachea), ("aorta", aorta))
        }
        both = np.intersect1d(z_of["eso"], z_of["trachea"])
        assert len(both) >= 3
        # Rows grow posterior (LPS y): the trachea lies in front of the esophagus on every shared slice.
        assert all(_centroid_yz(trachea, k) < _centroid_yz(eso, k) for k in both)
        shared = np.intersect1d(z_of["eso"], z_of["heart"])
        assert len(shared) >= 3
        assert all(_centroid_yz(eso, k) > _centroid_yz(heart, k) for k in shared)
        # The aortic arch rises above the heart; the trachea ends (carina) above the heart too.
        assert z_of["aorta"].max() > z_of["heart"].max() + 2
        assert z_of["trachea"].min() > z_of["heart"].min()
        # Tubular labels stop short of the volume's ends, as in SegTHOR.
        depth = lab.shape[0]
        for key in ("eso", "trachea", "aorta"):
            assert z_of[key].min() > 0 and z_of[key].max() < depth - 1, key
        # Every organ lies inside the body outline.
        body = np.stack([ndimage.binary_fill_holes(s != Tissue.AIR) for s in anatomy.tissue])
        assert not np.any((lab > 0) & ~body)
        # The descending aorta ends beside the spine on the patient's left (+x): lower aorta voxels at x > 0.
        low = z_of["aorta"].min()
        xs = case.ct.origin[0] + np.nonzero(aorta[low])[1] * case.ct.spacing[0]
        assert xs.size


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4, 5, 58])
def test_organ_masks_never_overlap_and_have_segthor_proportions(seed):
    anatomy = generate_anatomy(draw_params(seed, size=128))
    organs = anatomy.organs
    for a, b in itertools.combinations(organs, 2):
        assert overlap_count(organs[a], organs[b]) == 0, f"{a} and {b} overlap"
    counts = {k: m.count() for k, m in organs.items()}
    total = sum(counts.values())
    share = {k: v / total for k, v in counts.items()}
    # SegTHOR: heart 70.7 %, aorta 23 %, esophagus 3.7 %, trachea 2.6 % of the labelled voxels.
    assert max(share, key=share.get) == "heart"
    assert 0.45 <= share["heart"] <= 0.85
    assert 0.12 <= share["aorta"] <= 0.42
    assert 0.015 <= share["esophagus"] <= 0.10
    assert 0.01 <= share["trachea"] <= 0.10
    # The label map holds exactly the organ masks (nothing lost when merging).
    labels = anatomy.label_map()
    for key, count in counts.items():
        assert np.count_nonzero(labels == LABELS[key]) == count


def test_labels_agree_with_tissue(anatomy_plain):
    _, anatomy, case = anatomy_plain
    lab, t = case.labels.array, anatomy.tissue
    assert set(np.unique(t[lab == LABELS["heart"]])) <= {Tissue.MYOCARDIUM, Tissue.BLOOD}
    assert set(np.unique(t[lab == LABELS["aorta"]])) == {Tissue.BLOOD}
    assert set(np.unique(t[lab == LABELS["trachea"]])) <= {Tissue.AIRWAY, Tissue.AIRWAY_WALL}
    assert set(np.unique(t[lab == LABELS["esophagus"]])) <= {Tissue.ESOPHAGUS, Tissue.AIR}


def test_seeds_vary_the_anatomy():
    a = generate_anatomy(draw_params(1, size=96))
    b = generate_anatomy(draw_params(2, size=96))
    ca = {k: m.count() for k, m in a.organs.items()}
    cb = {k: m.count() for k, m in b.organs.items()}
    assert ca != cb
    assert a.tissue.shape != b.tissue.shape or not np.array_equal(a.tissue, b.tissue)
