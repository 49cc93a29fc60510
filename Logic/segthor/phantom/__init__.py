"""Synthetic thoracic CT phantoms with SegTHOR labels (0 background, 1 esophagus, 2 heart, 3 trachea, 4 aorta).

    from segthor.phantom import generate_case, write_case, write_cohort, sample_case, PhantomCase

numpy/scipy only; SimpleITK is needed to write files. Not patient data, not for clinical use.
"""

from segthor.phantom.generator import PhantomCase, generate_case, sample_case
from segthor.phantom.writer import write_case, write_cohort

__all__ = ["PhantomCase", "generate_case", "sample_case", "write_case", "write_cohort"]
