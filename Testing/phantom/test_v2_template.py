"""The shipped v2 template matches a rebuild from the HRA meshes (developers' checkouts with ../shared only)."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from segthor.phantom.v2.template import TEMPLATE_PATH, load_template


def _builder():
    spec = importlib.util.spec_from_file_location("build_template", TEMPLATE_PATH.parent / "build_template.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_shipped_template_loads_with_numpy_only():
    t = load_template()
    assert t.labels.dtype == np.uint8 and t.spacing == pytest.approx(1.5)
    assert set(t.marks["labels"]) >= {"heart_wall", "aorta", "airway_lumen", "pulmonary_artery", "svc", "ivc"}
    # The carina is the origin: the airway passes within a few mm of it.
    k, j, i = np.round(-t.origin[::-1] / t.spacing).astype(int)
    airway = np.isin(
        t.labels[k - 3 : k + 4, j - 6 : j + 7, i - 6 : i + 7], [t.label("airway_wall"), t.label("airway_lumen")]
    )
    assert airway.any()


@pytest.mark.shared
def test_mesh_registration_matches_shipped_template(shared_data_dir):
    """The vasculature-to-heart shift is what the shipped template was built with, and after it the meshes
    keep anatomy's order (arch above the carina, descending aorta behind the left atrium)."""
    mesh_dir = shared_data_dir / "hra_thorax_meshes"
    if not mesh_dir.is_dir():
        pytest.skip("hra_thorax_meshes not in ../shared/data")
    meshes, shift = _builder().load_meshes(mesh_dir)
    assert np.allclose(shift, load_template().marks["vascular_shift_mm"], atol=0.1)
    carina = meshes["VH_F_carina"][0].mean(axis=0)
    assert meshes["VHF_aortic_arch"][0][:, 2].max() > carina[2] + 10.0
    la = meshes["VH_F_left_cardiac_atrium"][0].mean(axis=0)
    desc = meshes["VHF_descending_aorta_a"][0]
    level = np.abs(desc[:, 2] - la[2]) < 10.0
    assert desc[level, 1].mean() > la[1] + 15.0  # LPS y: posterior
