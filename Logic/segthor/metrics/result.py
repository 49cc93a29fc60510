"""The per-organ result record and the edge-case rules that fill it.

Empty masks never crash and never put NaN or infinity into a result. Each metric's rule is its ``empty``
entry in ``segthor.metrics.registry``; for the metrics there now:

==============  ===================  ==========================  ===================================
status          dice, dice_2d, nsd   hd, hd95, assd, ahd         meaning
==============  ===================  ==========================  ===================================
``ok``          value                values (mm)                 both masks have voxels
``both_empty``  1.0                  0.0                         organ absent and correctly not found
``pred_empty``  0.0                  None (undefined)            organ missed: no predicted surface
``ref_empty``   0.0                  None (undefined)            organ predicted where there is none
==============  ===================  ==========================  ===================================

Volumes are always defined (0.0 for an empty mask). A distance is None, not infinity, where one surface
does not exist; JSON writes it as ``null`` and CSV as an empty cell, and cohort summaries count it apart.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from segthor.errors import InputError

STATUS_OK = "ok"
STATUS_BOTH_EMPTY = "both_empty"
STATUS_PRED_EMPTY = "pred_empty"
STATUS_REF_EMPTY = "ref_empty"
STATUSES = (STATUS_OK, STATUS_BOTH_EMPTY, STATUS_PRED_EMPTY, STATUS_REF_EMPTY)

HD95_POOLED = "pooled"
HD95_MAX_DIRECTED = "max-directed"
HD95_CONVENTIONS = (HD95_POOLED, HD95_MAX_DIRECTED)


def check_hd95_convention(convention: str) -> str:
    if convention not in HD95_CONVENTIONS:
        raise InputError(f"unknown HD95 convention {convention!r}; use one of: {', '.join(HD95_CONVENTIONS)}")
    return convention


@dataclass(frozen=True)
class OrganMetrics:
    """Agreement between a predicted and a reference mask of one organ (see the module docstring for empties).

    ``values`` holds every metric of ``segthor.metrics.registry.METRICS`` by name, in registry order, and
    each is also an attribute (``m.dice``, ``m.hd95``, ``m.nsd``); None where undefined. The definitions:

    dice: 3D Dice 2|P∩R| / (|P|+|R|).
    dice_2d: mean over axial slices (first array axis; for Volumes the axis nearest S-I) where P or R has voxels
        of the per-slice Dice.
    hd: Hausdorff distance, the largest surface-to-surface distance in either direction (mm).
    hd95: 95th percentile of the surface distances; ``hd95_convention`` says which rule: ``pooled`` (the
        distances of both directions in one set, as medpy and the seed papers) or ``max-directed`` (the larger
        of the two directed 95th percentiles, as MONAI and DeepMind's surface-distance).
    assd: mean of the pooled distances of both directions (mm).
    ahd: the SegTHOR paper's Average Hausdorff Distance, max of the two directed mean distances (mm).
    nsd: normalised surface Dice at ``options["nsd_tolerance_mm"]``, as DeepMind's surface-distance computes
        it (surfel areas within the tolerance of the other boundary; ``segthor.metrics.surfels``).
    volume_ref_ml, volume_pred_ml, volume_diff_ml: volumes in ml; the difference is pred - ref.
    status: ``ok``, ``both_empty``, ``pred_empty`` or ``ref_empty``.
    options: the metric parameters used (``segthor.metrics.registry.parameters()``).
    """

    values: Mapping[str, float | None]
    status: str
    hd95_convention: str
    options: Mapping[str, float] = field(default_factory=dict)

    def __getattr__(self, name: str) -> float | None:
        # Only reached for names that are not fields: the metrics themselves.
        values = self.__dict__.get("values")
        if values is not None and name in values:
            return values[name]
        raise AttributeError(f"OrganMetrics has no metric or field {name!r}")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-safe values, metrics in registry order then status and convention (never NaN or inf)."""
        out: dict[str, Any] = {k: json_number(v) for k, v in self.values.items()}
        out.update(status=self.status, hd95_convention=self.hd95_convention, **self.options)
        return out


def json_number(value: float | None) -> float | None:
    """A finite float, or None for a missing, NaN or infinite value."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None
