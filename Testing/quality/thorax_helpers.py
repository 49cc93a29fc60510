"""A small constructed thorax (CT in HU + SegTHOR labels) whose every part can be moved to break one check.

40 slices of 64 x 64 voxels, 5 mm everywhere, identity direction (array [z, y, x]: z grows to the head, y to
the back, x to the patient's left). Body of fat (-90 HU) with two lungs (-850 HU) on slices 8-35, a spine of
bone behind the centre, and the four organs where anatomy puts them.
"""

from __future__ import annotations

import numpy as np

from segthor.io.volume import Volume

SHAPE = (40, 64, 64)
MM = 5.0
# A model metadata whose trained spacing covers these 5 mm voxels, so spacing warnings stay quiet.
METADATA = {"training_spacing_range_mm": {"in_plane": [4.0, 6.0], "slice": [4.0, 6.0]}}


def _grid():
    z, y, x = SHAPE
    zz, yy, xx = np.mgrid[0:z, 0:y, 0:x].astype(np.float32)
    # mm from the in-plane centre; z in mm from the first slice
    return zz * MM, (yy - y / 2 + 0.5) * MM, (xx - x / 2 + 0.5) * MM


def make_thorax(
    blood_hu: float = 40.0,
    lungs: tuple[int, int] | None = (8, 35),
    body_half_width_mm: float = 130.0,
    lung_half_width_mm: float = 40.0,
    arms: bool = False,
    trachea_y_mm: float = 10.0,
    trachea_z: tuple[int, int] = (25, 39),
    esophagus_y_mm: float = 30.0,
    heart_z_centre_mm: float = 70.0,
    heart_scale: float = 1.0,
    aorta_top: int = 32,
    trachea_hu: float = -1000.0,
) -> tuple[Volume, Volume]:
    """(ct, labels) of the constructed thorax; keyword arguments move or change one part each."""
    zz, yy, xx = _grid()
    ct = np.full(SHAPE, -1000.0, np.float32)
    labels = np.zeros(SHAPE, np.uint8)
    body = (xx / body_half_width_mm) ** 2 + (yy / 100.0) ** 2 <= 1
    ct[body] = -90.0
    if lungs is not None:
        z_ok = (zz >= lungs[0] * MM) & (zz <= lungs[1] * MM)
        for side in (-60.0, 60.0):
            ct[z_ok & body & (((xx - side) / lung_half_width_mm) ** 2 + ((yy + 5.0) / 55.0) ** 2 <= 1)] = -850.0
    if arms:  # upper arms against the chest wall, cut by the image's left and right edges
        for side in (-155.0, 155.0):
            ct[((xx - side) / 30.0) ** 2 + (yy / 45.0) ** 2 <= 1] = 30.0
    spine = (xx**2 + (yy - 60.0) ** 2 <= 15.0**2) & body
    ct[spine] = 400.0

    def tube(x0, y0, r, z0, z1):
        return ((xx - x0) ** 2 + (yy - y0) ** 2 <= r * r) & (zz >= z0 * MM) & (zz <= z1 * MM)

    heart = ((xx - 10.0) / (60.0 * heart_scale)) ** 2 + ((yy + 30.0) / (50.0 * heart_scale)) ** 2 + (
        (zz - heart_z_centre_mm) / (45.0 * heart_scale)
    ) ** 2 <= 1
    aorta = tube(-35.0, 30.0, 12.0, 5, aorta_top) | tube(15.0, -15.0, 12.0, 16, aorta_top)
    arch_z = (zz >= (aorta_top - 2) * MM) & (zz <= aorta_top * MM)
    t = np.clip(((xx - 15.0) * -50.0 + (yy + 15.0) * 45.0) / (50.0**2 + 45.0**2), 0, 1)  # along the arch's line
    arch = ((xx - (15.0 - 50.0 * t)) ** 2 + (yy - (-15.0 + 45.0 * t)) ** 2 <= 12.0**2) & arch_z
    esophagus = tube(-5.0, esophagus_y_mm, 8.0, 0, 39)
    trachea = tube(0.0, trachea_y_mm, 9.0, *trachea_z)
    for mask, label, hu in (
        (heart, 2, blood_hu),
        (aorta | arch, 4, blood_hu),
        (esophagus, 1, 40.0),
        (trachea, 3, trachea_hu),
    ):
        labels[mask] = label
        ct[mask] = hu
    return Volume(ct.astype(np.int16), (MM, MM, MM)), Volume(labels, (MM, MM, MM))
