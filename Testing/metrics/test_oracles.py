"""Agreement with the reference implementations: medpy (pooled HD95, ASSD) and MONAI (max of directed HD95)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from segthor.metrics import binary_metrics

from .conftest import SPACING_ZYX, ellipsoid

medpy_binary = pytest.importorskip("medpy.metric.binary")


def _random_blobs(rng, shape, fill):
    return ndimage.binary_opening(ndimage.gaussian_filter(rng.random(shape), 1.0) > fill)


def _pairs():
    rng = np.random.default_rng(7)
    shape = (18, 36, 32)
    yield "ellipsoids", ellipsoid(shape, (9, 18, 16), (6, 11, 9)), ellipsoid(shape, (10, 19, 15), (5, 12, 10))
    island = ellipsoid(shape, (9, 18, 16), (5, 10, 8))
    island[0:2, 0:4, 28:32] = True  # a far false positive touching the image border
    yield "island at the border", island, ellipsoid(shape, (9, 18, 16), (6, 11, 9))
    for k in range(3):
        yield f"random {k}", _random_blobs(rng, shape, 0.52), _random_blobs(rng, shape, 0.5)


PAIRS = list(_pairs())


@pytest.mark.parametrize(("name", "pred", "ref"), PAIRS, ids=[p[0] for p in PAIRS])
def test_pooled_matches_medpy(name, pred, ref):
    m = binary_metrics(pred, ref, SPACING_ZYX)
    assert m.status == "ok" and m.hd95_convention == "pooled"
    assert m.hd95 == pytest.approx(medpy_binary.hd95(pred, ref, SPACING_ZYX), rel=1e-6)
    assert m.assd == pytest.approx(medpy_binary.assd(pred, ref, SPACING_ZYX), rel=1e-6)
    assert m.hd == pytest.approx(medpy_binary.hd(pred, ref, SPACING_ZYX), rel=1e-6)
    assert m.dice == pytest.approx(medpy_binary.dc(pred, ref), rel=1e-12)
    # The SegTHOR paper's AHD: the larger of the two directed mean distances (medpy's asd is directed).
    directed = max(medpy_binary.asd(pred, ref, SPACING_ZYX), medpy_binary.asd(ref, pred, SPACING_ZYX))
    assert m.ahd == pytest.approx(directed, rel=1e-6)


@pytest.mark.filterwarnings("ignore:.*always_return_as_numpy:FutureWarning")  # raised inside MONAI itself
@pytest.mark.parametrize(("name", "pred", "ref"), PAIRS, ids=[p[0] for p in PAIRS])
def test_max_directed_matches_monai(name, pred, ref):
    torch = pytest.importorskip("torch")
    monai_metrics = pytest.importorskip("monai.metrics")
    p, r = (torch.from_numpy(a)[None, None].float() for a in (pred, ref))
    m = binary_metrics(pred, ref, SPACING_ZYX, hd95="max-directed")
    assert m.hd95_convention == "max-directed"
    # MONAI computes in float32: agreement to float32 precision.
    hd95 = monai_metrics.compute_hausdorff_distance(p, r, include_background=True, percentile=95, spacing=SPACING_ZYX)
    hd = monai_metrics.compute_hausdorff_distance(p, r, include_background=True, spacing=SPACING_ZYX)
    assd = monai_metrics.compute_average_surface_distance(
        p, r, include_background=True, symmetric=True, spacing=SPACING_ZYX
    )
    assert m.hd95 == pytest.approx(hd95.item(), rel=1e-6)
    assert m.hd == pytest.approx(hd.item(), rel=1e-6)
    assert m.assd == pytest.approx(assd.item(), rel=1e-6)


def test_conventions_differ_where_the_directions_differ():
    """A far island moves the pooled and the max-of-directed HD95 differently (notes/metrics.md)."""
    _, pred, ref = PAIRS[1]
    pooled = binary_metrics(pred, ref, SPACING_ZYX).hd95
    max_directed = binary_metrics(pred, ref, SPACING_ZYX, hd95="max-directed").hd95
    assert max_directed > pooled


@pytest.mark.parametrize(("name", "pred", "ref"), PAIRS, ids=[p[0] for p in PAIRS])
def test_both_distance_searches_agree_with_medpy(name, pred, ref, monkeypatch):
    """The EDT and the k-d tree searches are both exact: each alone reproduces medpy."""
    import functools

    from segthor.metrics import distances
    from segthor.metrics.distances import surface_distances

    expected = medpy_binary.hd95(pred, ref, SPACING_ZYX), medpy_binary.assd(pred, ref, SPACING_ZYX)
    for method in ("edt", "kdtree"):
        monkeypatch.setattr(distances, "surface_distances", functools.partial(surface_distances, method=method))
        m = binary_metrics(pred, ref, SPACING_ZYX)
        assert (m.hd95, m.assd) == pytest.approx(expected, rel=1e-9), method


def test_surface_matches_scipy_erosion():
    from segthor.metrics.surfaces import surface, surface_by_erosion

    for _, pred, ref in PAIRS:
        for mask in (pred, ref, np.ones((3, 4, 5), bool)):
            assert np.array_equal(surface(mask), surface_by_erosion(mask))
