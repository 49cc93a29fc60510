"""Where everything is: body outline, skeleton, diaphragm, and the centre lines and solids of the organs.

Pure geometry in the anatomical frame (mm; x left, y posterior, z superior, z = 0 at the carina), computed
from one phantom's parameters. Positions are built relative to each other the way anatomy is (esophagus in
front of the spine, trachea in front of the esophagus, aortic arch around the trachea, heart in front of the
esophagus and on the diaphragm), and `push_clear` keeps the labelled tubes a few mm apart, so organ masks
never overlap whatever the seed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from segthor.phantom.shapes import push_clear, resample_path

SKIN_MM = 2.0
RIB_LAYER_MM = 11.0


@dataclass
class Tube:
    """A tube: a dense centre line (N, 3) in mm with a radius (mm) per sample."""

    points: np.ndarray
    radii: np.ndarray

    @classmethod
    def through(cls, control: list, radii: list, smooth: bool = True) -> Tube:
        ctrl = np.asarray(control, dtype=float)
        rad = np.asarray(radii, dtype=float)
        if smooth and len(ctrl) > 2:
            ctrl, rad = _smooth(ctrl, rad)
        pts, r = resample_path(ctrl, rad)
        return cls(pts, r)


def _smooth(ctrl: np.ndarray, rad: np.ndarray, per_segment: int = 12) -> tuple[np.ndarray, np.ndarray]:
    """A PCHIP curve through the control points (no overshoot, so clearances designed at the points hold)."""
    from scipy.interpolate import PchipInterpolator

    chord = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(ctrl, axis=0), axis=1))])
    t = np.linspace(0.0, chord[-1], (len(ctrl) - 1) * per_segment + 1)
    return PchipInterpolator(chord, ctrl, axis=0)(t), np.interp(t, chord, rad)


@dataclass
class Solid:
    """An ellipsoid: centre, semi-axes, rotation (columns = its axes)."""

    center: np.ndarray
    semi: np.ndarray
    rotation: np.ndarray = field(default_factory=lambda: np.eye(3))

    def contains(self, pts: np.ndarray, margin: float = 0.0) -> np.ndarray:
        local = (np.asarray(pts) - self.center) @ self.rotation
        return ((local / (self.semi + margin)) ** 2).sum(axis=-1) <= 1.0

    def half_extent(self) -> np.ndarray:
        return np.sqrt(((self.rotation * self.semi[None, :]) ** 2).sum(axis=1))

    def squashed_y(self, y_fixed: float, f: float) -> Solid:
        """This ellipsoid scaled by f along y about the plane y = y_fixed (still an ellipsoid)."""
        m = np.diag([1.0, f, 1.0]) @ self.rotation @ np.diag(self.semi)
        u, sv, _ = np.linalg.svd(m)
        c = self.center.copy()
        c[1] = y_fixed - f * (y_fixed - c[1])
        return Solid(c, sv, u)

    def moved(self, delta) -> Solid:
        return Solid(self.center + np.asarray(delta, dtype=float), self.semi.copy(), self.rotation.copy())


def _rot_from_axis(u: np.ndarray) -> np.ndarray:
    u = u / np.linalg.norm(u)
    v = np.cross([0.0, 0.0, 1.0], u)
    v /= np.linalg.norm(v)
    w = np.cross(u, v)
    return np.stack([u, v, w], axis=1)


class Layout:
    """All positions and shapes of one phantom (anatomical frame, mm)."""

    def __init__(self, p: dict, z_bottom: float, z_top: float):
        self.p = p
        self.z_bottom, self.z_top = z_bottom, z_top
        self.z_r = p["dome_right_z_mm"]
        self.z_l = self.z_r - p["dome_left_drop_mm"]
        self.hv = p["vertebra_height_mm"]
        self._skeleton()
        self._esophagus_and_airways()
        self._heart()
        self._aorta()
        self._other_vessels()
        self._labels()

    # ---- body and skeleton -------------------------------------------------------------------------
    def body_axes(self, z: float) -> tuple[float, float, float]:
        """Half width, anterior and posterior half depth of the body's elliptical outline at height z."""
        p = self.p
        knots = [self.z_r - 200, self.z_r, 0.0, 80.0, 250.0]
        a = p["body_half_width_mm"] * np.interp(z, knots, [1.0, 1.02, 1.0, 1.04, 1.06])
        belly = 1.0 + p["belly_factor"] * np.clip((self.z_r - 10 - z) / 90.0, 0.0, 1.0)
        ba = p["body_anterior_mm"] * np.interp(z, knots, [1.0, 1.0, 1.0, 0.96, 0.9]) * belly
        return float(a), float(ba), float(p["body_posterior_mm"])

    def wall(self, z: float) -> tuple[float, float]:
        """Subcutaneous fat and muscle thickness at height z (shoulder girdle muscle above the lungs)."""
        muscle = self.p["muscle_mm"] * float(np.interp(z, [60.0, 120.0], [1.0, 2.2]))
        return self.p["fat_mm"], muscle

    def spine_y(self, z):
        """y of the vertebral bodies' centre (thoracic kyphosis: most posterior in mid thorax)."""
        return self.yv0 - self.p["kyphosis_mm"] * ((np.asarray(z, dtype=float) + 40.0) / 200.0) ** 2

    def spine_front(self, z):
        return self.spine_y(z) - self.p["vertebra_ry_mm"]

    def canal_y(self, z):
        return self.spine_y(z) + self.p["vertebra_ry_mm"] + 9.0

    def cavity_axes(self, z: float) -> tuple[float, float, float]:
        """Half width, anterior and posterior half depth of the thoracic/abdominal cavity inside the ribs."""
        a, ba, bp = self.body_axes(z)
        fat, muscle = self.wall(z)
        ca = a - SKIN_MM - fat - muscle - RIB_LAYER_MM
        cba = ba - SKIN_MM - fat - 0.6 * muscle - 8.0
        cbp = float(self.canal_y(z)) + 2.0  # the lungs reach back beside the spine (paravertebral gutters)
        return ca, cba, cbp

    def dome_z(self, x, y):
        """Height of the diaphragm at (x, y): two domes, the right one higher (liver), a saddle between."""
        rx = 130.0
        # Flat in front (the central tendon under the heart), steep behind (the posterior recesses).
        dy = np.asarray(y, dtype=float) - 10.0
        fall = dy**2 / np.where(dy > 0, 220.0, 520.0)
        right = self.z_r - ((x + 55.0) ** 2 / (2 * rx) + fall)
        left = self.z_l - ((x - 55.0) ** 2 / (2 * rx) + fall)
        return np.maximum(right, left)

    def _skeleton(self) -> None:
        p = self.p
        self.yv0 = p["body_posterior_mm"] - SKIN_MM - 0.5 * p["fat_mm"] - p["paraspinal_mm"] - p["vertebra_ry_mm"] - 9.0
        self.z_apex = p["lung_apex_z_mm"]
        self.sternum_top, self.sternum_bottom = 75.0, self.z_r - 25.0
        self.ribs, self.cartilage = self._ribs()
        # Scapulae: plates on the back of the rib cage, from the shoulders down to their inferior angle.
        self.scapula_z = (self.z_r + 45.0, 115.0)
        self.clavicles = []
        for side in (-1.0, 1.0):
            a, ba, _ = self.body_axes(90.0)
            front = -self.cavity_axes(80.0)[1] - 6.0
            ctrl = [(side * 18.0, front, 78.0), (side * 0.45 * a, front + 6.0, 92.0), (side * (a - 40.0), -15.0, 100.0)]
            self.clavicles.append(Tube.through(ctrl, [6.0, 5.5, 6.5]))

    def _ribs(self) -> tuple[list[Tube], list[Tube]]:
        p = self.p
        ribs: list[Tube] = []
        cart: list[Tube] = []
        r = p["rib_radius_mm"]
        z_t1 = 4.2 * self.hv
        for k in range(12):
            z_head = z_t1 - k * self.hv
            if z_head - p["rib_drop_mm"] > self.z_top + 20 or z_head < self.z_bottom - 20:
                continue
            shrink = (0.6, 0.8)[k] if k < 2 else 1.0
            end = 165.0 if k < 7 else (150.0 if k < 10 else 115.0)
            phi = np.radians(np.linspace(18.0, end, 40))
            # Ribs run down steadily from the spine to the front, so each slice cuts short rib segments.
            zz = z_head - p["rib_drop_mm"] * (phi - phi[0]) / (np.pi - phi[0])
            for side in (-1.0, 1.0):
                pts = []
                for f, zk in zip(phi, zz, strict=True):
                    ca, cba, cbp = self.cavity_axes(zk)
                    ax = ca * shrink + r + 1.0
                    by = (cbp if np.cos(f) > 0 else cba) * (shrink if np.cos(f) <= 0 else 1.0) + r + 1.0
                    pts.append((side * ax * np.sin(f), by * np.cos(f), zk))
                pts = np.array(pts)
                ribs.append(Tube.through(pts, [r] * len(pts), smooth=False))
                if k < 7:  # costal cartilage from the rib's end to the sternum
                    s_y = -self.cavity_axes(zz[-1])[1] - 8.0
                    c_end = (side * 14.0, s_y, zz[-1] - 6.0)
                    cart.append(Tube.through([pts[-1], c_end], [0.9 * r, 0.9 * r], smooth=False))
        return ribs, cart

    # ---- esophagus and airways ---------------------------------------------------------------------
    def _esophagus_and_airways(self) -> None:
        p = self.p
        erx, ery = p["esophagus_rx_mm"], p["esophagus_ry_mm"]
        xe = p["esophagus_x_mm"]
        top = self.z_top + 25.0
        yf = self.spine_front
        self.z_gej = self.z_l - p["gej_depth_mm"]
        self.stomach_center = np.array([62.0, float(yf(self.z_l)) - 62.0, self.z_l - 55.0])
        ctrl = [
            (xe - 2, yf(top) - 3 - ery, top),
            (xe - 1, yf(60.0) - 3 - ery, 60.0),
            (xe, yf(0.0) - 3 - ery, 0.0),
            (xe + 1, yf(-40.0) - 3 - ery, -40.0),
            # Behind the heart the esophagus comes forward, in front of the aorta moving to the midline,
            # then crosses the diaphragm left of and in front of the aorta.
            (xe + 4, yf(self.z_r + 20) - 9 - ery, self.z_r + 20),
            (xe + 18, yf(self.z_r - 8) - 34, self.z_r - 8),
            (xe + 26, yf(self.z_gej) - 50, self.z_gej),
            tuple(self.stomach_center + np.array([-12.0, 0.0, 10.0])),
        ]
        self.esophagus = Tube.through(ctrl, [erx] * len(ctrl))
        self.esophagus_scale = (1.0, erx / ery, 1.0)

        rt = p["trachea_radius_mm"]
        xt = p["trachea_x_mm"]

        def trachea_y(z: float) -> float:
            return float(yf(z)) - 3 - 2 * ery - 3.0 - rt

        ctrl_t = [(xt, trachea_y(z), z) for z in (top, 100.0, 50.0, 0.0)]
        self.trachea = Tube.through(ctrl_t, [rt] * 4)
        self.carina = np.array(ctrl_t[-1], dtype=float)
        self.trachea_y = trachea_y

        def branch(start, direction, length, radius):
            d = np.asarray(direction, dtype=float)
            d /= np.linalg.norm(d)
            end = np.asarray(start, dtype=float) + length * d
            return Tube.through([start, end], [radius, radius], smooth=False), end

        ar, al = np.radians(p["bronchus_angle_right_deg"]), np.radians(p["bronchus_angle_left_deg"])
        start = self.carina + np.array([0.0, 0.0, 2.0])
        self.bronchus_r, end_r = branch(start, (-np.sin(ar), 0.3, -np.cos(ar)), 26.0, 0.78 * rt)
        self.bronchus_l, end_l = branch(start, (np.sin(al), 0.3, -np.cos(al)), 46.0, 0.7 * rt)
        # Lobar bronchi (unlabelled): upper lobes out sideways, lower lobes down behind the heart.
        lobar = [
            branch(end_r, (-0.9, 0.1, 0.45), 20.0, 0.5 * rt)[0],
            branch(end_r, (-0.5, 0.55, -0.75), 32.0, 0.55 * rt)[0],
            branch(end_l, (0.85, -0.2, 0.35), 20.0, 0.5 * rt)[0],
            branch(end_l, (0.5, 0.55, -0.75), 30.0, 0.5 * rt)[0],
        ]
        # Main bronchi run forward of the esophagus (the left one crosses in front of it).
        for b in (self.bronchus_r, self.bronchus_l, *lobar):
            b.points = push_clear(b.points, b.radii, self.esophagus.points, self.esophagus.radii, gap=2.0)
        self.lobar_bronchi = lobar
        self.hila = {"right": end_r + np.array([-8.0, -6.0, -4.0]), "left": end_l + np.array([8.0, -6.0, -2.0])}

    def _airway_tubes(self) -> list[Tube]:
        return [self.trachea, self.bronchus_r, self.bronchus_l, *self.lobar_bronchi]

    # ---- heart ----------------------------------------------------------------------------------------
    def _heart(self) -> None:
        p = self.p
        tilt = np.radians(p["heart_tilt_deg"])
        u = np.array([0.72 * np.cos(tilt), -0.69 * np.cos(tilt), -np.sin(tilt)])
        rot = _rot_from_axis(u)
        s = p["heart_scale"]
        # A heart too deep for the chest is flattened front to back (down to 70 %), then scaled down, until it
        # fits between the esophagus and the sternum.
        for _ in range(10):
            parts = self._place_heart(s, rot)
            front = min(part.center[1] - part.half_extent()[1] for part in parts)
            back = max(part.center[1] + part.half_extent()[1] for part in parts)
            limit = -self.cavity_axes(float(parts[0].center[2]))[1] + 3.0
            if front >= limit:
                break
            f = (back - limit) / (back - front)
            if f >= 0.7:
                parts = [part.squashed_y(back, f) for part in parts]
                break
            s *= 0.95
        self.heart_scale = s
        self.heart_parts = parts

        def inside_point(solid: Solid, direction, frac: float) -> np.ndarray:
            d = np.asarray(direction, dtype=float)
            d /= np.linalg.norm(d)
            reach = 1.0 / np.sqrt(((d @ solid.rotation / solid.semi) ** 2).sum())
            return solid.center + frac * reach * d

        parts = self.heart_parts
        self.aortic_root = inside_point(parts[0], (-0.45, -0.15, 0.9), 0.55)
        self.rvot = inside_point(parts[0], (0.2, -0.75, 0.65), 0.6)
        self.ra_top = parts[2].center + np.array([0.0, 0.0, 0.7 * parts[2].semi[2]])
        # Chambers (blood pools), inside the outline; the rest of the heart is myocardium.
        v = parts[0]
        s = self.heart_scale
        ant_right = np.array([-0.5, -0.85, 0.1])
        post_left = np.array([0.6, 0.75, -0.1])
        self.chambers = [
            Solid(v.center + 0.12 * v.semi[0] * rot[:, 0] + 11 * s * post_left, v.semi * [0.7, 0.52, 0.52], rot),
            Solid(v.center - 0.05 * v.semi[0] * rot[:, 0] + 14 * s * ant_right, v.semi * [0.62, 0.42, 0.45], rot),
            Solid(parts[1].center, parts[1].semi * 0.78),
            Solid(parts[2].center, parts[2].semi * 0.8),
        ]

    def _place_heart(self, s: float, rot: np.ndarray) -> list[Solid]:
        """Ventricles, left and right atrium of a heart of scale s, placed against the esophagus and diaphragm."""
        p = self.p
        xh = p["heart_x_mm"]
        ventricles = Solid(np.array([xh, 0.0, 0.0]), s * np.array([58.0, 36.0, 42.0]), rot)
        left_atrium = Solid(np.array([p["esophagus_x_mm"] + 2.0, 30 * s, 30 * s]), s * np.array([27.0, 17.0, 21.0]))
        right_atrium = Solid(np.array([xh - 44 * s, 10 * s, 16 * s]), s * np.array([26.0, 27.0, 30.0]))
        # The left atrium, the heart's most posterior part, lies heart_gap_mm in front of the esophagus.
        eso = self.esophagus.points
        near = (eso[:, 2] > -80.0) & (eso[:, 2] < -30.0)
        eso_front = float(eso[near, 1].min()) - p["esophagus_ry_mm"]
        y0 = eso_front - p["heart_gap_mm"] - 47 * s
        # The ventricles sit on the diaphragm: lowest point 5 mm below the dome there, cut flat later.
        z0 = float(self.dome_z(xh, y0)) + ventricles.half_extent()[2] - 5.0
        parts = [part.moved((0.0, y0, z0)) for part in (ventricles, left_atrium, right_atrium)]
        # The left atrium lies under the carina, never level with the main bronchi.
        la_top = parts[1].center[2] + parts[1].semi[2]
        if la_top > -30.0:
            parts[1] = parts[1].moved((0.0, 0.0, -30.0 - la_top))
        return self._clear_heart(parts)

    def _clear_heart(self, parts: list[Solid]) -> list[Solid]:
        """Move the heart forward until it clears the esophagus, the airways and the descending aorta."""
        gap = self.p["heart_gap_mm"]
        flat = 1.0 / np.asarray(self.esophagus_scale)  # the esophagus is thinner front to back
        tubes = [(self.esophagus.points, self.esophagus.radii, flat)]
        tubes += [(t.points, t.radii, np.ones(3)) for t in self._airway_tubes()]
        # The descending aorta is not built yet; its centre line lies at aorta_desc_x beside the spine.
        zs = np.linspace(-140.0, 0.0, 60)
        desc = np.stack([np.full_like(zs, self.p["aorta_desc_x_mm"]), self.spine_front(zs) - 5.0, zs], axis=1)
        tubes.append((desc, np.full(len(zs), self.p["aorta_radius_desc_mm"] + 1.0), np.ones(3)))
        grid = np.stack(np.meshgrid([-1, 0, 1], [-1, 0, 1], [-1, 0, 1], indexing="ij"), -1).reshape(-1, 3)
        dirs = grid[np.abs(grid).sum(axis=1) > 0].astype(float)
        dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)  # 26 directions around each sample
        for _ in range(40):
            clash = False
            for pts, rad, shape in tubes:
                probe = (pts[:, None, :] + rad[:, None, None] * (dirs * shape)[None]).reshape(-1, 3)
                # The heart is cut flat at the diaphragm: nothing below it can clash.
                probe = probe[probe[:, 2] > self.dome_z(probe[:, 0], probe[:, 1])]
                if any(part.contains(probe, gap).any() for part in parts):
                    clash = True
                    break
            if not clash:
                break
            parts = [part.moved((0.0, -2.0, 0.0)) for part in parts]
        return parts

    # ---- aorta -----------------------------------------------------------------------------------------
    def _aorta(self) -> None:
        p = self.p
        ra, rd = p["aorta_radius_asc_mm"], p["aorta_radius_desc_mm"]
        rt = p["trachea_radius_mm"]
        z_arch = p["arch_top_z_mm"]
        xt = p["trachea_x_mm"]
        yt = self.trachea_y(z_arch)
        xd = p["aorta_desc_x_mm"]
        yf = self.spine_front
        ca_front = -self.cavity_axes(z_arch - 30.0)[1]
        ctrl: list = [tuple(self.aortic_root)]
        radii: list = [ra]
        asc_y = max(yt - 46.0, ca_front + ra + 8.0)
        ctrl.append((xt - 14.0, asc_y, z_arch - 26.0))
        radii.append(ra)
        d = rt + 0.9 * ra + 6.0
        arc = [(250.0, 0.55), (275.0, 0.15), (300.0, 0.0), (325.0, 0.15), (350.0, 0.45), (15.0, 0.9)]
        self.arch_points = []
        for ang, drop in arc:
            a = np.radians(ang)
            pt = (xt + d * np.cos(a), yt + d * np.sin(a), z_arch - 0.9 * ra - 14.0 * drop)
            ctrl.append(pt)
            radii.append(0.9 * ra + (rd - 0.9 * ra) * drop * 0.5)
            self.arch_points.append(np.array(pt))
        desc = [
            (xd, float(yf(z_arch - 45)) - 6, z_arch - 45.0),
            (xd, float(yf(-20.0)) - 5, -20.0),
            (xd - 3, float(yf(self.z_r + 30)) - 6, self.z_r + 30),
            (xd - 6, float(yf(self.z_r - 5)) - 8, self.z_r - 5),
            (10.0, float(yf(self.z_r - 45)) - 14, self.z_r - 45),
            (5.0, float(yf(self.z_r - 90)) - 17, self.z_r - 90),
            (3.0, float(yf(self.z_bottom - 30)) - 17, self.z_bottom - 30),
        ]
        ctrl += desc
        radii += [rd, rd, rd, rd, 0.92 * rd, 0.88 * rd, 0.85 * rd]
        path = Tube.through(ctrl, radii)
        # Keep clear of the airways and the esophagus (the flattened esophagus counts with its half width).
        for tube_ in self._airway_tubes():
            path.points = push_clear(path.points, path.radii, tube_.points, tube_.radii, gap=3.0)
        path.points = push_clear(path.points, path.radii, self.esophagus.points, self.esophagus.radii, gap=2.5)
        self.aorta = path

    # ---- unlabelled vessels ----------------------------------------------------------------------------
    def _other_vessels(self) -> None:
        p = self.p
        xt = p["trachea_x_mm"]
        top = self.z_top + 25.0
        a = self.arch_points
        yt = self.trachea_y
        self.arch_branches = [
            Tube.through([a[1], (xt - 20, yt(80) - 16, 80.0), (xt - 24, yt(top) - 12, top)], [6.5, 6.0, 6.0]),
            Tube.through([a[2], (xt + 16, yt(80) - 16, 80.0), (xt + 20, yt(top) - 14, top)], [4.5, 4.5, 4.5]),
            Tube.through([a[3], (xt + 32, yt(80) - 2, 80.0), (xt + 90, yt(top) + 5, top)], [5.5, 5.5, 5.0]),
        ]
        self.svc = Tube.through(
            [
                (xt - 40, yt(top) - 24, top),
                (xt - 38, yt(40.0) - 26, 40.0),
                (xt - 34, yt(-10.0) - 26, -10.0),
                tuple(self.ra_top),
            ],
            [9.5, 9.5, 10.0, 10.0],
        )
        bif = np.array([xt + 18, yt(-14.0) - 26, -14.0])
        self.pulmonary = [
            Tube.through([self.rvot, bif], [13.0, 13.0], smooth=False),
            Tube.through([bif, (xt + 42, yt(-12.0) - 8, -12.0), tuple(self.hila["left"])], [11.0, 10.0, 8.0]),
            Tube.through(
                [bif, (xt - 10, yt(-20.0) - 18, -20.0), (xt - 40, yt(-24.0) - 14, -24.0), tuple(self.hila["right"])],
                [10.0, 9.5, 9.0, 8.0],
            ),
        ]
        labelled = [self.aorta, self.esophagus, *self._airway_tubes()]
        for group in (self.arch_branches, [self.svc], self.pulmonary):
            for vessel in group:
                for other in labelled:
                    vessel.points = push_clear(vessel.points, vessel.radii, other.points, other.radii, gap=1.5)

    # ---- label extents -----------------------------------------------------------------------------------
    def _labels(self) -> None:
        p = self.p
        stop = self.z_top - p["label_top_gap_mm"]
        self.esophagus_label = (self.z_gej, min(p["esophagus_top_z_mm"], stop))
        self.trachea_label = (self.carina[2] - 20.0, min(p["larynx_z_mm"], stop))
        self.aorta_label = (self.z_r - p["aorta_label_below_dome_mm"], np.inf)


def scan_range(p: dict) -> tuple[float, float]:
    """Anatomical z of the scan's bottom and top slice centres.

    The top is drawn in the lower neck; the bottom must lie `bottom_margin_mm` below the lowest label (the
    esophago-gastric junction or the aorta's label end), so a short scan is moved down, not cut.
    """
    extent = (int(p["n_slices"]) - 1) * float(p["spacing_z"])
    z_r = p["dome_right_z_mm"]
    lowest = min(z_r - p["dome_left_drop_mm"] - p["gej_depth_mm"], z_r - p["aorta_label_below_dome_mm"])
    top = min(float(p["z_top_mm"]), lowest - p["bottom_margin_mm"] + extent)
    return top - extent, top
