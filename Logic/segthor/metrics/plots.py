"""Box plots of per-case metrics, one panel per metric and a box per organ (and per method when compared).

matplotlib is an optional dependency (``pip install segthor-slicer[plot]``), imported only here.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from segthor.errors import InputError
from segthor.io.atomic import atomic_path
from segthor.metrics import registry
from segthor.metrics.cohort import CohortEvaluation
from segthor.organs import organ_by_name


def plot_boxes(
    cohorts: Sequence[tuple[str, CohortEvaluation]],
    path: str | os.PathLike[str],
    metrics: Sequence[str] | None = None,
) -> Path:
    """Write a PNG of box plots; ``cohorts`` is [(method label, evaluation), ...] (one or two methods);
    ``metrics`` default to the registry's ``plot`` view."""
    metrics = registry.names("plot") if metrics is None else metrics
    try:
        import matplotlib

        matplotlib.use("Agg")  # files only; never open a window
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise InputError("--plot needs matplotlib: pip install matplotlib (or segthor-slicer[plot])") from exc

    organs = cohorts[0][1].organs
    fig, axes = plt.subplots(1, len(metrics), figsize=(3.2 * len(metrics), 3.6), squeeze=False)
    width = 0.8 / len(cohorts)
    for ax, metric in zip(axes[0], metrics, strict=True):
        for k, (label, cohort) in enumerate(cohorts):
            data = [[v for v in cohort.values(organ, metric).values() if v is not None] for organ in organs]
            positions = [i + (k - (len(cohorts) - 1) / 2) * width for i in range(len(organs))]
            boxes = ax.boxplot(
                [d if d else [float("nan")] for d in data], positions=positions, widths=width * 0.9, patch_artist=True
            )
            for patch, organ in zip(boxes["boxes"], organs, strict=True):
                patch.set_facecolor(organ_by_name(organ).color_float)
                patch.set_alpha(1.0 if k == 0 else 0.45)
                patch.set_label(label if organ == organs[0] else None)
        ax.set_xticks(range(len(organs)), organs, rotation=30)
        ax.set_title(registry.metric(metric).title)
        ax.grid(axis="y", alpha=0.3)
    if len(cohorts) > 1:
        axes[0][0].legend(fontsize="small")
    first = cohorts[0][1]
    fig.suptitle(
        f"{len(first.cases)} case(s), HD95 {first.hd95_convention}"
        + (", restricted" if first.restricted else "")
        + (f", {registry.describe_options(first.options)}" if registry.parameters() else "")
    )
    fig.tight_layout()
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=100, format="png")
    plt.close(fig)
    return path
