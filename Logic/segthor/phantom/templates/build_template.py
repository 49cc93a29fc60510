"""Offline build of phantom v2's organ template from the HRA thorax meshes (developers only; needs vtk).

    python Logic/segthor/phantom/templates/build_template.py MESH_DIR [--spacing 1.5]

MESH_DIR holds the HuBMAP Human Reference Atlas GLB files (CC BY 4.0; see README.md here). Writes
`thorax_template.npz` next to this script: one uint8 label volume (template labels in TEMPLATE_LABELS) on
an LPS grid in mm whose origin is the carina, plus the landmarks the runtime generator needs (trachea
centre line, esophagus path, heart centre, ...). The runtime generator reads only the .npz; it never needs
vtk or the meshes.

One body frame: the female (VH_F) meshes. The heart, the airways and the skin agree with each other, but the
vasculature file lies about 3-5 cm anterior and 3 cm inferior of the heart (its ascending aorta starts 6 cm
in front of the heart's aortic valve); it is moved rigidly by the mean offset between the heart's aortic and
pulmonary valves and the lower ends of the ascending aorta and pulmonary trunk, after which the arch lies
above the carina and the descending aorta behind the left atrium, as in anatomy.
"""

from __future__ import annotations

import argparse
import json
import struct
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
OUT_NAME = "thorax_template.npz"

# Template labels (painting order at run time follows these numbers: later ones win where meshes overlap).
TEMPLATE_LABELS = {
    "thymus": 1,
    "pulmonary_vein": 2,
    "ivc": 3,
    "svc": 4,
    "pulmonary_artery": 5,
    "arch_branch": 6,
    "aorta": 7,
    "heart_wall": 8,
    "heart_left_blood": 9,
    "heart_right_blood": 10,
    "airway_wall": 11,
    "airway_lumen": 12,
    "larynx": 13,
    "fat_rim": 14,  # a few mm of mediastinal fat around all of the above (painted over lung only)
}

_CT = {5120: np.int8, 5121: np.uint8, 5122: np.int16, 5123: np.uint16, 5125: np.uint32, 5126: np.float32}
_NC = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT4": 16}


def _node_matrix(n: dict) -> np.ndarray:
    if "matrix" in n:
        return np.array(n["matrix"], dtype=float).reshape(4, 4).T
    m = np.eye(4)
    if "scale" in n:
        m = np.diag([*n["scale"], 1.0]) @ m
    if "rotation" in n:
        x, y, z, w = n["rotation"]
        r = np.eye(4)
        r[:3, :3] = [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
        m = r @ m
    if "translation" in n:
        t = np.eye(4)
        t[:3, 3] = n["translation"]
        m = t @ m
    return m


def load_glb(path: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Meshes of a binary glTF file by node name: (vertices (N, 3) in the file's frame, triangles (M, 3))."""
    data = path.read_bytes()
    offset, js, binary = 12, None, b""
    while offset < len(data):
        length, kind = struct.unpack("<II", data[offset : offset + 8])
        chunk = data[offset + 8 : offset + 8 + length]
        if kind == 0x4E4F534A:
            js = json.loads(chunk)
        else:
            binary = chunk
        offset += 8 + length

    def accessor(i: int) -> np.ndarray:
        a = js["accessors"][i]
        view = js["bufferViews"][a["bufferView"]]
        dt, n = np.dtype(_CT[a["componentType"]]), _NC[a["type"]]
        start = view.get("byteOffset", 0) + a.get("byteOffset", 0)
        stride = view.get("byteStride", 0)
        if stride and stride != dt.itemsize * n:
            raw = np.frombuffer(binary, np.uint8, count=stride * a["count"], offset=start).reshape(a["count"], stride)
            return raw[:, : dt.itemsize * n].copy().view(dt).reshape(a["count"], n)
        return np.frombuffer(binary, dt, count=a["count"] * n, offset=start).reshape(a["count"], n)

    meshes: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def walk(i: int, parent: np.ndarray) -> None:
        node = js["nodes"][i]
        m = parent @ _node_matrix(node)
        if "mesh" in node:
            verts, faces, k = [], [], 0
            for prim in js["meshes"][node["mesh"]]["primitives"]:
                v = accessor(prim["attributes"]["POSITION"]).astype(float)
                f = accessor(prim["indices"]).reshape(-1, 3).astype(np.int64)
                verts.append((np.c_[v, np.ones(len(v))] @ m.T)[:, :3])
                faces.append(f + k)
                k += len(v)
            meshes[node.get("name", str(i))] = (np.concatenate(verts), np.concatenate(faces))
        for child in node.get("children", []):
            walk(child, m)

    for root in js["scenes"][js.get("scene", 0)]["nodes"]:
        walk(root, np.eye(4))
    return meshes


def to_lps_mm(v: np.ndarray) -> np.ndarray:
    """glTF frame (metres; x patient's left, y up, z anterior) -> LPS mm."""
    return np.stack([v[:, 0], -v[:, 2], v[:, 1]], axis=1) * 1000.0


GROUPS = {
    "thymus": ["VH_F_thymus_lobe_L", "VH_F_thymus_lobe_R"],
    "pulmonary_vein": [
        "VHF_pulmonary_vein_L_sup",
        "VHF_pulmonary_vein_R_inf",
        "VHF_pulmonary_vein_R_sup",
        "VHF_pulmonary_vein_L_inf",
    ],
    "ivc": ["VHF_inferior_vena_cava_a", "VHF_inferior_vena_cava_b"],
    "svc": ["VHF_superior_vena_cava"],
    "pulmonary_artery": ["VHF_pulmonary_trunk", "VHF_pulmonary_artery_L", "VHF_pulmonary_artery_R"],
    "arch_branch": [
        "VHF_left_common_carotid_artery_a",
        "VHF_left_common_carotid_artery_b",
        "VHF_left_subclavian_artery_a",
        "VHF_left_subclavian_artery_b",
        "VHF_brachiocephalic_artery_a",
        "VHF_brachiocephalic_artery_b",
    ],
    "aorta": ["VHF_ascending_aorta", "VHF_aortic_arch", "VHF_descending_aorta_a", "VHF_descending_aorta_b"],
    "heart": [
        "VH_F_interventricular_septum",
        "VH_F_left_cardiac_atrium",
        "VH_F_left_ventricle",
        "VH_F_right_cardiac_atrium",
        "VH_F_right_ventricle",
        "VH_F_aortic_valve",
        "VH_F_pulmonary_valve",
        "VH_F_mitral_valve",
        "VH_F_tricuspid_valve",
    ],
    "left_chambers": ["VH_F_left_cardiac_atrium", "VH_F_left_ventricle"],
    "right_chambers": ["VH_F_right_cardiac_atrium", "VH_F_right_ventricle"],
    "airway": [
        "VH_F_trachea",
        "VH_F_tracheal_cartilage",
        "VH_F_carina",
        "VH_F_right_main_bronchus",
        "VH_F_left_main_bronchus",
        "VH_F_cartilage_of_main_bronchus_R",
        "VH_F_cartilage_of_main_bronchus_L",
    ],
    "larynx": ["VH_F_cricoid_cartilage", "VH_F_thyroid_cartilage"],
}
VASCULAR_FILE = "VH_F_Vasculature.glb"
FILES = [
    "VH_F_Heart.glb",
    VASCULAR_FILE,
    "3d-vh-f-trachea.glb",
    "3d-vh-f-main-bronchus.glb",
    "3d-vh-f-larynx.glb",
    "VH_F_Thymus.glb",
]


def load_meshes(mesh_dir: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """All meshes in LPS mm, the vasculature registered to the heart (see the module docstring)."""
    meshes: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    vascular: set[str] = set()
    for name in FILES:
        loaded = load_glb(mesh_dir / name)
        if name == VASCULAR_FILE:
            vascular |= set(loaded)
        meshes.update({k: (to_lps_mm(v), f) for k, (v, f) in loaded.items()})

    def low_end(key: str) -> np.ndarray:
        v = meshes[key][0]
        order = np.argsort(v[:, 2])
        return v[order[: max(10, len(v) // 20)]].mean(axis=0)

    offsets = [
        meshes["VH_F_aortic_valve"][0].mean(axis=0) - low_end("VHF_ascending_aorta"),
        meshes["VH_F_pulmonary_valve"][0].mean(axis=0) - low_end("VHF_pulmonary_trunk"),
    ]
    shift = np.mean(offsets, axis=0)
    for key in vascular:
        v, f = meshes[key]
        meshes[key] = (v + shift, f)
    return meshes, shift


def cap_holes(verts: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Close the open ends of a tube mesh: a triangle fan from each boundary loop to the loop's centroid.

    The vessel meshes are open where a vessel was cut; the stencil needs closed surfaces.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    uniq, inv = np.unique(np.round(verts, 5), axis=0, return_inverse=True)
    f = inv.reshape(-1)[faces]
    edges = np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]])
    key = np.sort(edges, axis=1)
    _, first, counts = np.unique(key, axis=0, return_index=True, return_counts=True)
    boundary = edges[first[counts == 1]]
    if len(boundary) == 0:
        return uniq, f
    n = len(uniq)
    graph = coo_matrix((np.ones(len(boundary)), (boundary[:, 0], boundary[:, 1])), shape=(n, n))
    _, comp = connected_components(graph, directed=False)
    loops = comp[boundary[:, 0]]
    new_v, new_f = [uniq], [f]
    for k, loop in enumerate(np.unique(loops)):
        e = boundary[loops == loop]
        centre = uniq[np.unique(e)].mean(axis=0)
        new_v.append(centre[None])
        idx = n + k
        new_f.append(np.stack([e[:, 1], e[:, 0], np.full(len(e), idx)], axis=1))
    return np.concatenate(new_v), np.concatenate(new_f)


def voxelise(verts: np.ndarray, faces: np.ndarray, origin: np.ndarray, spacing: float, shape_zyx) -> np.ndarray:
    """Binary mask (z, y, x) of the closed surface on the grid (vtkPolyDataToImageStencil)."""
    import vtk
    from vtk.util.numpy_support import numpy_to_vtk, numpy_to_vtkIdTypeArray, vtk_to_numpy

    pts = vtk.vtkPoints()
    pts.SetData(numpy_to_vtk(np.ascontiguousarray(verts), deep=True))
    cells = vtk.vtkCellArray()
    conn = np.hstack([np.full((len(faces), 1), 3), faces]).astype(np.int64).ravel()
    cells.SetCells(len(faces), numpy_to_vtkIdTypeArray(conn, deep=True))  # deprecated in VTK 9.6, kept for 9.x
    poly = vtk.vtkPolyData()
    poly.SetPoints(pts)
    poly.SetPolys(cells)
    nz, ny, nx = shape_zyx
    img = vtk.vtkImageData()
    img.SetOrigin(*origin)
    img.SetSpacing(spacing, spacing, spacing)
    img.SetDimensions(nx, ny, nz)
    img.AllocateScalars(vtk.VTK_UNSIGNED_CHAR, 1)
    img.GetPointData().GetScalars().Fill(1)
    sten = vtk.vtkPolyDataToImageStencil()
    sten.SetInputData(poly)
    sten.SetOutputOrigin(*origin)
    sten.SetOutputSpacing(spacing, spacing, spacing)
    sten.SetOutputWholeExtent(img.GetExtent())
    sten.Update()
    st = vtk.vtkImageStencil()
    st.SetInputData(img)
    st.SetStencilConnection(sten.GetOutputPort())
    st.ReverseStencilOff()
    st.SetBackgroundValue(0)
    st.Update()
    return vtk_to_numpy(st.GetOutput().GetPointData().GetScalars()).reshape(nz, ny, nx).astype(bool)


def solid(m: np.ndarray) -> np.ndarray:
    """Fill a voxelised surface: the meshes are double-walled or open tubes, so the stencil gives shells.

    3D hole filling closes shells; open tubes are closed slice by slice along all three axes.
    """
    from scipy import ndimage as ndi

    m = ndi.binary_closing(m, iterations=2) | m
    out = ndi.binary_fill_holes(m)
    for axis in range(3):
        moved = np.moveaxis(m, axis, 0)
        filled = np.stack([ndi.binary_fill_holes(sl) if sl.any() else sl for sl in moved])
        out |= np.moveaxis(filled, 0, axis)
    return out


def hull_slices(
    verts: np.ndarray, faces: np.ndarray, origin: np.ndarray, spacing: float, shape_zyx, z_min: float
) -> np.ndarray:
    """Per axial slice above z_min, the convex hull of the mesh's cross-section (robust for a thin, tilted tube
    whose shell the stencil leaves open, like the trachea)."""
    from matplotlib.path import Path as MplPath
    from scipy.spatial import ConvexHull

    nz, ny, nx = shape_zyx
    out = np.zeros(shape_zyx, dtype=bool)
    tri = verts[faces]
    ys = origin[1] + np.arange(ny) * spacing
    xs = origin[0] + np.arange(nx) * spacing
    grid_pts = np.stack(np.meshgrid(xs, ys), axis=-1).reshape(-1, 2)
    for k in range(nz):
        h = origin[2] + k * spacing
        if h < z_min:
            continue
        z = tri[:, :, 2]
        hit = tri[(z.min(axis=1) < h) & (z.max(axis=1) > h)]
        pts = []
        for a, b in ((0, 1), (1, 2), (2, 0)):
            pa, pb = hit[:, a], hit[:, b]
            m = (pa[:, 2] - h) * (pb[:, 2] - h) < 0
            w = (h - pa[m, 2]) / (pb[m, 2] - pa[m, 2])
            pts.append(pa[m, :2] + w[:, None] * (pb[m, :2] - pa[m, :2]))
        pts = np.concatenate(pts)
        if len(pts) < 3:
            continue
        hull = ConvexHull(pts)
        inside = MplPath(pts[hull.vertices]).contains_points(grid_pts)
        out[k] = inside.reshape(ny, nx)
    return out


def extrude_up(airway: np.ndarray, z0: float, spacing: float, z_from: float, max_slope: float = 0.3) -> np.ndarray:
    """The airway above z_from continued as a copy of its cross-section there, along the trachea's axis (its
    slope front-to-back capped at `max_slope`: the neck is more upright than the VH_F trachea), through the
    larynx to the top of the template."""
    from scipy import ndimage as ndi

    out = airway.copy()
    k_from = int(round((z_from - z0) / spacing))
    below = k_from - int(round(20.0 / spacing))
    c_hi = ndi.center_of_mass(airway[k_from])
    c_lo = ndi.center_of_mass(airway[below])
    slope = np.clip((c_hi[0] - c_lo[0]) / (k_from - below), -max_slope, max_slope)
    slope_x = (c_hi[1] - c_lo[1]) / (k_from - below)
    for k in range(k_from + 1, airway.shape[0]):
        dy, dx = slope * (k - k_from), np.clip(slope_x, -0.1, 0.1) * (k - k_from)
        out[k] = ndi.shift(airway[k_from].astype(np.uint8), (dy, dx), order=0).astype(bool)
    return out


def build(mesh_dir: Path, spacing: float = 1.5) -> dict:
    from scipy import ndimage as ndi

    meshes, shift = load_meshes(mesh_dir)
    carina = meshes["VH_F_carina"][0].mean(axis=0)
    for key, (v, f) in meshes.items():
        meshes[key] = (v - carina, f)
    used = [k for names in GROUPS.values() for k in names]
    allv = np.concatenate([meshes[k][0] for k in used])
    lo = np.floor(allv.min(axis=0) - 8.0)
    hi = np.ceil(allv.max(axis=0) + 8.0)
    lo[2] = max(lo[2], -460.0)  # the aorta and IVC run on into the abdomen; phantoms stop above the pelvis
    hi[2] = max(hi[2], 215.0)  # room for the airway drawn on up through the larynx into the neck
    shape = tuple(int(n) for n in np.ceil((hi - lo) / spacing).astype(int)[::-1] + 1)
    masks = {}
    for group, names in GROUPS.items():
        m = np.zeros(shape, dtype=bool)
        for name in names:
            v, f = cap_holes(*meshes[name])
            m |= voxelise(v, f, lo, spacing, shape)
        masks[group] = solid(m)
        print(f"{group:18s} {m.sum() * spacing**3 / 1000:8.1f} ml")

    labels = np.zeros(shape, dtype=np.uint8)
    order = ["thymus", "pulmonary_vein", "ivc", "svc", "pulmonary_artery", "arch_branch", "aorta"]
    for g in order:
        labels[masks[g]] = TEMPLATE_LABELS[g]
    heart = ndi.binary_fill_holes(ndi.binary_closing(masks["heart"], iterations=2))
    labels[heart] = TEMPLATE_LABELS["heart_wall"]
    # Blood pools: chambers minus a wall (left ventricle thick, the rest thin), inside the heart.
    ball = ndi.generate_binary_structure(3, 1)
    lv_wall = max(1, int(round(6.0 / spacing)))
    thin = max(1, int(round(2.5 / spacing)))
    left = ndi.binary_erosion(masks["left_chambers"], ball, iterations=thin)
    lv = ndi.binary_erosion(masks["left_chambers"], ball, iterations=lv_wall)
    left &= ~masks["heart"] | lv | (np.arange(shape[0])[:, None, None] * spacing + lo[2] > -105.0)
    labels[left & heart] = TEMPLATE_LABELS["heart_left_blood"]
    right = ndi.binary_erosion(masks["right_chambers"], ball, iterations=thin)
    labels[right & heart & ~left] = TEMPLATE_LABELS["heart_right_blood"]
    airway = ndi.binary_fill_holes(ndi.binary_closing(masks["airway"], iterations=2))
    # The trachea above the carina: per-slice hulls of its cross-sections (its stencil is an open shell).
    tv = np.concatenate([meshes[k][0] for k in ("VH_F_trachea", "VH_F_tracheal_cartilage")])
    tf = np.concatenate(
        [meshes["VH_F_trachea"][1], meshes["VH_F_tracheal_cartilage"][1] + len(meshes["VH_F_trachea"][0])]
    )
    airway |= hull_slices(tv, tf, lo, spacing, shape, z_min=4.0)
    airway = extrude_up(airway, lo[2], spacing, z_from=85.0)
    labels[airway] = TEMPLATE_LABELS["airway_wall"]
    labels[ndi.binary_erosion(airway, ball, iterations=max(1, int(round(2.0 / spacing))))] = TEMPLATE_LABELS[
        "airway_lumen"
    ]
    labels[masks["larynx"] & ~airway] = TEMPLATE_LABELS["larynx"]
    rim = ndi.binary_dilation(labels > 0, ball, iterations=max(1, int(round(4.5 / spacing)))) & (labels == 0)
    labels[rim] = TEMPLATE_LABELS["fat_rim"]
    return {"labels": labels, "origin": lo, "spacing": spacing, "vascular_shift": shift, "carina_mesh": carina}


def landmarks(t: dict) -> dict:
    """Centre lines and points (LPS mm, carina origin) the runtime generator places its procedural anatomy by."""
    lab, lo, s = t["labels"], t["origin"], t["spacing"]
    zs = lo[2] + np.arange(lab.shape[0]) * s
    ys = lo[1] + np.arange(lab.shape[1]) * s
    xs = lo[0] + np.arange(lab.shape[2]) * s
    out: dict = {}
    airway = lab >= TEMPLATE_LABELS["airway_wall"]
    airway &= lab <= TEMPLATE_LABELS["airway_lumen"]
    trachea = []
    for k in range(lab.shape[0]):
        if zs[k] < 2.0:
            continue
        yy, xx = np.nonzero(airway[k])
        if len(yy):
            trachea.append([float(xs[xx].mean()), float(ys[yy].mean()), float(zs[k]), float(ys[yy].max())])
    out["trachea_centre"] = trachea  # x, y, z, posterior wall y
    aorta = lab == TEMPLATE_LABELS["aorta"]
    desc = []
    for k in range(lab.shape[0]):
        yy, xx = np.nonzero(aorta[k])
        if len(yy) == 0:
            continue
        # The most posterior blob is the descending aorta (the ascending one lies in front).
        sel = ys[yy] > ys[yy].max() - 30.0
        desc.append([float(xs[xx[sel]].mean()), float(ys[yy[sel]].mean()), float(zs[k])])
    out["aorta_desc_centre"] = desc
    out["aorta_top_z"] = float(zs[np.nonzero(aorta.any(axis=(1, 2)))[0].max()])
    heart = (lab >= TEMPLATE_LABELS["heart_wall"]) & (lab <= TEMPLATE_LABELS["heart_right_blood"])
    kk, yy, xx = np.nonzero(heart)
    out["heart_centre"] = [float(xs[xx].mean()), float(ys[yy].mean()), float(zs[kk].mean())]
    out["heart_bottom_z"] = float(zs[kk].min())
    out["heart_front_y"] = float(ys[yy].min())
    # Posterior surface of the heart per z (the left atrium's back wall), near the midline.
    back = []
    for k in np.unique(kk):
        sel = (kk == k) & (np.abs(xs[xx] - 10.0) < 25.0)
        if sel.any():
            back.append([float(zs[k]), float(ys[yy[sel]].max())])
    out["heart_back"] = back
    pa = lab == TEMPLATE_LABELS["pulmonary_artery"]
    kk, yy, xx = np.nonzero(pa)
    hila = {}
    for side, pick in (("right", np.argmin), ("left", np.argmax)):
        i = pick(xs[xx])
        hila[side] = [float(xs[xx[i]]), float(ys[yy[i]]), float(zs[kk[i]])]
    out["hila"] = hila
    # Distal ends of the main bronchi (where the lobar bronchi start): the most lateral airway voxel per side.
    kk, yy, xx = np.nonzero(airway & (zs[:, None, None] < -5.0))
    ends = []
    for pick in (np.argmin, np.argmax):
        i = pick(xs[xx])
        ends.append([float(xs[xx[i]]), float(ys[yy[i]]), float(zs[kk[i]])])
    out["bronchus_ends"] = ends  # right, left
    # Course of a transvenous pacemaker lead: SVC centre line, right atrium, right ventricular apex.
    svc = lab == TEMPLATE_LABELS["svc"]
    line = []
    for k in np.nonzero(svc.any(axis=(1, 2)))[0][::4]:
        yy, xx = np.nonzero(svc[k])
        line.append([float(xs[xx].mean()), float(ys[yy].mean()), float(zs[k])])
    out["svc_centre"] = line[::-1]  # top down
    right = lab == TEMPLATE_LABELS["heart_right_blood"]
    kk, yy, xx = np.nonzero(right)
    ra = xs[xx] < np.median(xs[xx])
    out["ra_centre"] = [float(xs[xx[ra]].mean()), float(ys[yy[ra]].mean()), float(zs[kk[ra]].mean())]
    # The apex: the far end of the right ventricle, forward, left and down.
    score = xs[xx] - ys[yy] - zs[kk]
    i = int(np.argmax(score))
    out["rv_apex"] = [float(xs[xx[i]]) - 8.0, float(ys[yy[i]]) + 8.0, float(zs[kk[i]]) + 8.0]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("mesh_dir", type=Path)
    ap.add_argument("--spacing", type=float, default=1.5)
    ap.add_argument("--out", type=Path, default=HERE / OUT_NAME)
    args = ap.parse_args()
    t = build(args.mesh_dir, args.spacing)
    marks = landmarks(t)
    marks["vascular_shift_mm"] = [round(float(v), 2) for v in t["vascular_shift"]]
    marks["labels"] = TEMPLATE_LABELS
    np.savez_compressed(
        args.out,
        labels=t["labels"],
        origin=t["origin"].astype(np.float64),
        spacing=np.float64(t["spacing"]),
        landmarks=json.dumps(marks),
    )
    print(f"wrote {args.out} {t['labels'].shape} ({args.out.stat().st_size / 1e6:.2f} MB); shift {t['vascular_shift']}")


if __name__ == "__main__":
    main()
