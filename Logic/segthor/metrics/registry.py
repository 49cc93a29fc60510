"""The one list of metrics: name, label, unit, better direction, empty-mask values, views and function.

Everything that stores, shows, summarises or compares per-organ metrics reads ``METRICS``: ``OrganMetrics``
and its dict (JSON, CSV columns, the case report), the cohort summary, the terminal table, the box plots, the
Wilcoxon comparison and the MRML comparison table. Adding a metric is one ``Metric`` entry here plus its
function; a metric with a setting (NSD's tolerance) also lists a ``Parameter``, which the Python API takes in
``metric_options`` and ``add_parameter_arguments`` turns into a command-line option.

Views (``Metric.views``) say where a metric appears besides the full record: ``table`` (terminal summary),
``plot`` (box plots), ``compare`` (Wilcoxon tests), ``mrml`` (the Slicer comparison table) and ``brief``
(one-line summaries such as the batch CSV and the demo).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from segthor.errors import InputError

HIGHER = "higher"  # e.g. Dice: 1 is perfect
LOWER = "lower"  # e.g. distances: 0 is perfect
NEAR_ZERO = "zero"  # signed differences: 0 is perfect, either sign is worse
NO_DIRECTION = "none"  # descriptive values (volumes)
DIRECTIONS = (HIGHER, LOWER, NEAR_ZERO, NO_DIRECTION)
VIEWS = ("table", "plot", "compare", "mrml", "brief")


@dataclass(frozen=True)
class Parameter:
    """A setting of one metric, e.g. NSD's tolerance: ``name`` is the key in ``metric_options``."""

    name: str
    default: float
    unit: str
    label: str
    help: str

    @property
    def flag(self) -> str:
        """The command-line option: ``nsd_tolerance_mm`` -> ``--nsd-tolerance``."""
        stem = self.name.removesuffix(f"_{self.unit}") if self.unit else self.name
        return "--" + stem.replace("_", "-")


class MaskPair:
    """What a metric function gets: one organ's predicted and reference boolean masks (both non-empty
    unless the metric's ``empty`` rule is None), cropped to a box holding both; ``spacing`` in mm in array
    axis order (first axis axial); ``hd95`` convention; ``options`` (every parameter, defaults filled in).

    Surfaces and distances are computed once, on first use, and shared by the metrics that need them.
    """

    def __init__(
        self, pred: np.ndarray, ref: np.ndarray, spacing: tuple[float, float, float], hd95: str, options: dict
    ) -> None:
        self.pred, self.ref, self.spacing, self.hd95, self.options = pred, ref, spacing, hd95, options

    @cached_property
    def distances(self) -> tuple[np.ndarray, np.ndarray]:
        """(pred -> ref, ref -> pred) surface distances in mm (``segthor.metrics.distances``)."""
        from segthor.metrics.distances import surface_distances
        from segthor.metrics.surfaces import surface

        return surface_distances(surface(self.pred), surface(self.ref), self.spacing)

    @cached_property
    def boundary(self) -> Any:
        from segthor.metrics.distances import boundary_metrics

        return boundary_metrics(*self.distances, self.hd95)


@dataclass(frozen=True)
class Metric:
    """One metric. ``empty`` = (value when both masks are empty, value when exactly one is), or None when
    ``compute`` handles empty masks itself (volumes). ``digits``: decimals shown in tables."""

    name: str
    label: str
    unit: str
    better: str
    compute: Callable[[MaskPair], float]
    empty: tuple[float | None, float | None] | None
    digits: int
    views: frozenset[str]
    definition: str
    parameters: tuple[Parameter, ...] = ()

    @property
    def heading(self) -> str:
        """Column heading: label and unit, e.g. ``HD95 mm``."""
        return f"{self.label} {self.unit}" if self.unit else self.label

    @property
    def title(self) -> str:
        """Plot and MRML column title: label and unit in brackets, e.g. ``HD95 (mm)``."""
        return f"{self.label} ({self.unit})" if self.unit else self.label


def _dice(p: MaskPair) -> float:
    from segthor.metrics.overlap import dice_3d

    return dice_3d(p.pred, p.ref)


def _dice_2d(p: MaskPair) -> float:
    from segthor.metrics.overlap import dice_2d

    return dice_2d(p.pred, p.ref)


def _volume(p: MaskPair, which: str) -> float:
    from segthor.metrics.overlap import volume_ml

    return volume_ml(getattr(p, which), p.spacing)


def _nsd(p: MaskPair) -> float:
    from segthor.metrics.surfels import surfel_dice

    return surfel_dice(p.pred, p.ref, p.spacing, p.options["nsd_tolerance_mm"])


_ALL_VIEWS = frozenset({"table", "plot", "compare", "mrml"})
NSD_TOLERANCE = Parameter(
    "nsd_tolerance_mm",
    2.0,
    "mm",
    "NSD tolerance",
    "surface distance (mm) within which a boundary point counts as agreeing, for NSD (default 2 mm)",
)

METRICS: tuple[Metric, ...] = (
    Metric("dice", "Dice", "", HIGHER, _dice, (1.0, 0.0), 3, _ALL_VIEWS | {"brief"}, "3D Dice 2|P∩R| / (|P|+|R|)"),
    Metric(
        "dice_2d",
        "Dice 2D",
        "",
        HIGHER,
        _dice_2d,
        (1.0, 0.0),
        3,
        frozenset({"table", "plot", "compare"}),
        "mean per-slice Dice over the axial slices where P or R has voxels",
    ),
    Metric(
        "hd",
        "HD",
        "mm",
        LOWER,
        lambda p: p.boundary.hd,
        (0.0, None),
        2,
        frozenset({"table"}),
        "Hausdorff distance: largest surface distance in either direction",
    ),
    Metric(
        "hd95",
        "HD95",
        "mm",
        LOWER,
        lambda p: p.boundary.hd95,
        (0.0, None),
        2,
        _ALL_VIEWS | {"brief"},
        "95th percentile of the surface distances (pooled or max-directed, see hd95_convention)",
    ),
    Metric(
        "assd",
        "ASSD",
        "mm",
        LOWER,
        lambda p: p.boundary.assd,
        (0.0, None),
        2,
        _ALL_VIEWS,
        "mean of the surface distances of both directions pooled",
    ),
    Metric(
        "ahd",
        "AHD",
        "mm",
        LOWER,
        lambda p: p.boundary.ahd,
        (0.0, None),
        2,
        frozenset({"table", "plot", "compare"}),
        "SegTHOR paper's Average Hausdorff Distance: max of the two directed mean distances",
    ),
    Metric(
        "nsd",
        "NSD",
        "",
        HIGHER,
        _nsd,
        (1.0, 0.0),
        3,
        _ALL_VIEWS,
        "normalised surface Dice: share of both boundaries' surfel area within the tolerance of the other one",
        (NSD_TOLERANCE,),
    ),
    Metric(
        "volume_ref_ml",
        "Vol ref",
        "ml",
        NO_DIRECTION,
        lambda p: _volume(p, "ref"),
        None,
        2,
        frozenset(),
        "reference volume",
    ),
    Metric(
        "volume_pred_ml",
        "Vol pred",
        "ml",
        NO_DIRECTION,
        lambda p: _volume(p, "pred"),
        None,
        2,
        frozenset(),
        "predicted volume",
    ),
    Metric(
        "volume_diff_ml",
        "dVol",
        "ml",
        NEAR_ZERO,
        lambda p: _volume(p, "pred") - _volume(p, "ref"),
        None,
        2,
        frozenset({"table", "plot"}),
        "predicted minus reference volume",
    ),
)

# Import-time snapshots for readers that want constants; the functions below read METRICS at call time, so a
# metric added to METRICS (in a test, say) reaches every consumer that calls them.
METRIC_NAMES: tuple[str, ...] = tuple(m.name for m in METRICS)
PARAMETERS: tuple[Parameter, ...] = tuple(p for m in METRICS for p in m.parameters)


def metric(name: str) -> Metric:
    """The registry entry of ``name``; ``KeyError`` naming the known metrics otherwise."""
    for m in METRICS:
        if m.name == name:
            return m
    raise KeyError(f"unknown metric {name!r}; known: {', '.join(names())}")


def parameters() -> tuple[Parameter, ...]:
    """Every metric's parameters, in registry order."""
    return tuple(p for m in METRICS for p in m.parameters)


def names(view: str | None = None) -> tuple[str, ...]:
    """Metric names in registry order, all or those shown in ``view`` (one of ``VIEWS``)."""
    if view is not None and view not in VIEWS:
        raise ValueError(f"unknown view {view!r}; use one of {VIEWS}")
    return tuple(m.name for m in METRICS if view is None or view in m.views)


def metric_options(options: Mapping[str, Any] | None = None) -> dict[str, float]:
    """Every parameter's value: the defaults, overridden by ``options``. Unknown names or non-positive
    values raise ``InputError`` (a tolerance of 0 mm or less has no meaning)."""
    values = {p.name: p.default for p in parameters()}
    for key, value in (options or {}).items():
        if key not in values:
            raise InputError(f"unknown metric option {key!r}; known: {', '.join(values) or 'none'}")
        if value is None:
            continue
        try:
            number = float(value)
        except (TypeError, ValueError):
            number = float("nan")
        if not np.isfinite(number) or number <= 0:
            raise InputError(f"{key} must be a positive number, got {value!r}")
        values[key] = number
    return values


def describe_options(options: Mapping[str, float]) -> str:
    """``NSD tolerance 2 mm`` (for table footers and plot titles)."""
    return "; ".join(f"{p.label} {options.get(p.name, p.default):g} {p.unit}".rstrip() for p in parameters())


def add_parameter_arguments(parser: argparse.ArgumentParser) -> None:
    """One ``--flag VALUE`` per metric parameter (``--nsd-tolerance 2``)."""
    for p in parameters():
        parser.add_argument(
            p.flag, dest=p.name, type=float, default=None, metavar=p.unit.upper() or "VALUE", help=p.help
        )


def options_from_arguments(args: argparse.Namespace) -> dict[str, float]:
    """The ``metric_options`` given on a command line parsed with ``add_parameter_arguments``; a value that is
    not a positive number raises ``InputError`` naming the option (``--nsd-tolerance``), not the API key."""
    given = {p: getattr(args, p.name) for p in parameters() if getattr(args, p.name, None) is not None}
    for p, value in given.items():
        if not np.isfinite(value) or value <= 0:
            raise InputError(f"{p.flag} must be a positive number ({p.unit or 'value'}), got {value:g}")
    return {p.name: value for p, value in given.items()}


def compute_all(pair: MaskPair, empty_case: int | None) -> dict[str, float | None]:
    """Every metric of one organ, in registry order. ``empty_case``: None when both masks have voxels,
    0 when both are empty, 1 when exactly one is (index into each metric's ``empty`` rule)."""
    values: dict[str, float | None] = {}
    for m in METRICS:
        if m.empty is not None and empty_case is not None:
            values[m.name] = m.empty[empty_case]
        else:
            values[m.name] = float(m.compute(pair))
    return values


def check_names(requested: Iterable[str]) -> tuple[str, ...]:
    """``requested`` as a tuple, each a registry name (``InputError`` otherwise)."""
    out = tuple(requested)
    known = names()
    unknown = [n for n in out if n not in known]
    if unknown:
        raise InputError(f"unknown metric(s) {', '.join(unknown)}; known: {', '.join(known)}")
    return out
