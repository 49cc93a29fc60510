"""Phantom generator v2: organ shapes from the HuBMAP Human Reference Atlas meshes (CC BY 4.0), deformed per case.

A label template built offline from the meshes (`segthor/phantom/templates`) gives the heart, the great
vessels, the airways and the thymus; v1's procedural trunk (body wall, lungs, skeleton, abdomen) is fitted
around it and the esophagus is drawn along the template's anatomy. numpy/scipy only at run time.
"""

from segthor.phantom.v2.generator import generate_case_v2

__all__ = ["generate_case_v2"]
