"""Coarse anatomy found by thresholds alone: body, lungs, mediastinal blood pool and spine, per axial slice.

Computed once per CT on a decimated patient-aligned view (in-plane voxels of ~5 mm; every slice kept),
so it costs a fraction of a second even for a 512x512x300 CT. Used by the input checks (does the scan cover the
thorax, is the body cut, contrast phase) and by the organ checks (where the spine is).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from segthor.io.patient_frame import PatientFrame
from segthor.io.volume import Volume
from segthor.quality import thresholds as T

# In-plane decimation target: thresholds and areas need no finer grid.
_TARGET_IN_PLANE_MM = 5.0


@dataclass
class Landmarks:
    """Per-slice findings in the patient frame (index k grows towards the head; positions in mm from voxel 0).

    `spine_y_mm[k]` is the mean posterior coordinate (mm, growing towards the back) of the spine's dense bone on
    slice k, NaN where none was found.
    """

    frame: PatientFrame
    body_slices: np.ndarray  # bool [S]
    lung_slices: np.ndarray  # bool [S]
    fov_cut_sides: dict[str, int]  # edge -> number of slices on which the body touches it
    spine_y_mm: np.ndarray  # float [S]
    mediastinum_hu: float | None  # upper-quartile HU of the mediastinal blood pool; None: no lung slices

    @property
    def n_slices(self) -> int:
        return int(self.body_slices.size)

    def slice_z_mm(self, k: np.ndarray | int) -> np.ndarray | float:
        return np.asarray(k, dtype=float) * self.frame.spacing_zyx[0]

    def lung_extent_mm(self) -> float:
        ks = np.flatnonzero(self.lung_slices)
        return 0.0 if ks.size == 0 else float((ks[-1] - ks[0] + 1) * self.frame.spacing_zyx[0])

    def lung_range(self) -> tuple[int, int] | None:
        ks = np.flatnonzero(self.lung_slices)
        return None if ks.size == 0 else (int(ks[0]), int(ks[-1]))


def _decimated(ct: Volume, frame: PatientFrame) -> tuple[np.ndarray, tuple[float, float, float]]:
    view = frame.view(ct.array)
    sy = max(1, int(_TARGET_IN_PLANE_MM // max(frame.spacing_zyx[1], 1e-6)))
    sx = max(1, int(_TARGET_IN_PLANE_MM // max(frame.spacing_zyx[2], 1e-6)))
    small = np.asarray(view[:, ::sy, ::sx], dtype=np.float32)
    return small, (frame.spacing_zyx[0], frame.spacing_zyx[1] * sy, frame.spacing_zyx[2] * sx)


def _cut_by_circle(
    body: np.ndarray,
    padding: np.ndarray,
    centre_p: np.ndarray,
    centre_l: np.ndarray,
    enclosed_air: np.ndarray,
    lung_slices: np.ndarray,
    near: int,
    in_plane: np.ndarray,
    anterior: np.ndarray,
    sides: dict[str, np.ndarray],
) -> None:
    """Add to `anterior` and `sides` ([S] bool, in place) the slices on which the body meets the padding of a
    reconstruction circle: in front (within 45 degrees of anterior from the body's centre) over more than
    `T.FOV_EDGE_FRACTION` of the image's width, or at a side (within 45 degrees of right or left) with lung
    within `near` voxels of the cut, as the image's border is judged. `centre_p`, `centre_l`: the body's centre
    per slice ([S], voxels)."""
    from scipy import ndimage

    n_s, n_p, n_l = body.shape
    cut = body & ndimage.binary_dilation(padding, structure=in_plane)
    if not cut.any():
        return
    dp = np.arange(n_p)[None, :, None] - centre_p[:, None, None]
    dl = np.arange(n_l)[None, None, :] - centre_l[:, None, None]
    lateral = np.abs(dl) >= np.abs(dp)
    anterior |= (cut & ~lateral & (dp < 0)).sum(axis=(1, 2)) > T.FOV_EDGE_FRACTION * n_l
    for side, sign in (("right", -1), ("left", 1)):
        side_cut = cut & lateral & (np.sign(dl) == sign)
        if not side_cut.any():
            continue
        band = ndimage.binary_dilation(side_cut, structure=in_plane, iterations=near)
        sides[side] |= (band & enclosed_air).any(axis=(1, 2)) & lung_slices


def _outside_the_body_hull(
    background: np.ndarray, body: np.ndarray, pieces: np.ndarray, touches_edge: np.ndarray
) -> None:
    """Mark as outside (in `touches_edge`, in place) the background `pieces` (labels of `background`, each on one
    slice) that lie mostly outside their slice's convex hull of the body: the table's foam and the air around the
    body that a reconstruction circle cuts off from the image's border. Lung the circle cuts lies inside the
    hull, between the chest wall in front, behind and the mediastinum."""
    if len(pieces) == 0:
        return
    from scipy import ndimage
    from skimage.morphology import convex_hull_image

    objects = ndimage.find_objects(background)
    hulls: dict[int, np.ndarray] = {}
    for piece in pieces:
        box = objects[int(piece) - 1]
        k = box[0].start
        if k not in hulls:
            hulls[k] = convex_hull_image(body[k]) if body[k].any() else np.zeros_like(body[k])
        mask = background[k][box[1:]] == piece
        if np.count_nonzero(mask & hulls[k][box[1:]]) < 0.5 * np.count_nonzero(mask):
            touches_edge[int(piece)] = True


def find_landmarks(ct: Volume) -> Landmarks:
    """Body, lung, field-of-view and spine findings of a CT in HU (any orientation)."""
    from scipy import ndimage

    frame = PatientFrame.of(ct)
    hu, spacing = _decimated(ct, frame)
    n_s, n_p, n_l = hu.shape
    dense = hu > T.BODY_HU
    labels, count = ndimage.label(dense)
    if count:
        sizes = np.bincount(labels.ravel())
        sizes[0] = 0
        body = labels == int(np.argmax(sizes))
    else:
        body = dense
    del labels
    # Outside the circle a scanner reconstructed, the image holds a padding value far below air (-2048, -3024 HU):
    # that circle is the field of view's edge, as the image's border is.
    padding = hu < T.PADDING_HU
    # Fill each axial slice separately: lungs are holes of the body on a slice, not in 3D (they open at the top).
    # Holes = background pieces (connected within their slice) that do not touch the slice's edge. A piece that
    # touches the padding is outside air when it is gas (mean below T.GAS_HU: air outside the body averages -1000
    # HU) or lies mostly outside the body's convex hull (the table's foam), and lung that the circle cuts when it
    # is neither (parenchyma with its vessels averages -850).
    in_plane = np.zeros((3, 3, 3), bool)
    in_plane[1] = ndimage.generate_binary_structure(2, 1)
    background, n_background = ndimage.label(~body & ~padding, structure=in_plane)
    edge_labels = np.unique(np.concatenate([background[:, [0, -1], :].ravel(), background[:, :, [0, -1]].ravel()]))
    touches_edge = np.zeros(n_background + 1, bool)
    touches_edge[edge_labels[edge_labels > 0]] = True
    if padding.any():
        at_circle = np.unique(background[ndimage.binary_dilation(padding, structure=in_plane) & ~padding])
        at_circle = at_circle[at_circle > 0]
        counts = np.bincount(background.ravel(), minlength=n_background + 1)
        sums = np.bincount(background.ravel(), weights=hu.ravel(), minlength=n_background + 1)
        gas = sums[at_circle] < T.GAS_HU * counts[at_circle]
        touches_edge[at_circle[gas]] = True
        # The table's foam the circle cuts (-900 HU under its carbon skin) is not gas: it lies outside the body.
        _outside_the_body_hull(background, body, at_circle[~gas], touches_edge)
    outside = touches_edge[background] | padding
    del background
    filled = ~outside
    enclosed_air = filled & ~body & (hu < T.LUNG_HU)
    body_area = filled.sum(axis=(1, 2))
    air_area = enclosed_air.sum(axis=(1, 2))
    body_slices = body_area > 0
    lung_slices = body_slices & (air_area >= T.LUNG_AREA_FRACTION * np.maximum(body_area, 1))

    # Per-slice body centre (posterior and left coordinates, in decimated voxels) and front/back rows.
    p_idx = np.arange(n_p, dtype=np.float64)
    l_idx = np.arange(n_l, dtype=np.float64)
    area = np.maximum(body_area, 1)
    rows_count = filled.sum(axis=2)  # [S, P]
    centre_p = rows_count @ p_idx / area
    centre_l = filled.sum(axis=1) @ l_idx / area

    # Field of view: the anterior edge cut means the chest wall (and what lies behind it) is cut. A lateral
    # edge counts only where the thorax itself reaches it (enclosed lung within FOV_LUNG_EDGE_MM of that edge):
    # arms and the table cut by the edge hold none of the four organs and are cut in most chest CTs.
    near = max(1, int(round(T.FOV_LUNG_EDGE_MM / spacing[2])))
    anterior = body[:, 0, :].mean(axis=1) > T.FOV_EDGE_FRACTION
    sides = {}
    for side, col, band in (("right", 0, slice(0, near)), ("left", n_l - 1, slice(n_l - near, n_l))):
        touches = body[:, :, col].mean(axis=1) > T.FOV_EDGE_FRACTION
        sides[side] = touches & enclosed_air[:, :, band].any(axis=(1, 2)) & lung_slices
    if padding.any():
        _cut_by_circle(body, padding, centre_p, centre_l, enclosed_air, lung_slices, near, in_plane, anterior, sides)
    fov_cut = {"anterior": int(np.count_nonzero(anterior))}
    fov_cut.update({side: int(np.count_nonzero(cut)) for side, cut in sides.items()})

    rows_with_body = rows_count > 0
    front = np.argmax(rows_with_body, axis=1)
    back = n_p - 1 - np.argmax(rows_with_body[:, ::-1], axis=1)
    pp = p_idx[None, :, None]
    ll = l_idx[None, None, :]

    # Spine: dense bone behind the body's centre, near the midline (its mean posterior coordinate per slice).
    half_width = T.SPINE_HALF_WIDTH_MM / spacing[2]
    band = (np.abs(ll - centre_l[:, None, None]) <= half_width) & (pp > centre_p[:, None, None])
    bone = (hu > T.BONE_HU) & filled & band
    bone_rows = bone.sum(axis=2)
    n_bone = bone_rows.sum(axis=1)
    spine_y = np.where(n_bone >= 3, bone_rows @ p_idx / np.maximum(n_bone, 1) * spacing[1], np.nan)
    spine_y[~body_slices] = np.nan

    # Mediastinal blood pool: the central band in front of the spine on slices that show lung.
    mediastinum = None
    if lung_slices.any():
        depth = (back - front)[:, None, None]
        box = (
            (np.abs(ll - centre_l[:, None, None]) <= 0.15 * n_l)
            & (pp >= front[:, None, None] + 0.2 * depth)
            & (pp <= front[:, None, None] + 0.55 * depth)
            & lung_slices[:, None, None]
        )
        pooled = hu[box & body & (hu >= T.MEDIASTINUM_HU[0]) & (hu <= T.MEDIASTINUM_HU[1])]
        if pooled.size >= 20:
            # Upper quartile: the blood pool rather than the vessel walls, myocardium and soft tissue around it.
            mediastinum = float(np.percentile(pooled, 75))
    return Landmarks(frame, body_slices, lung_slices, fov_cut, spine_y, mediastinum)
