"""Moved to ``segthor.scenario`` (the scenario drives the whole logic, so it belongs above the MRML adapter).

Kept only so that a Slicer module calling ``segthor.mrml.scenario.run_phantom_scenario`` still works; the
import happens on use, and ``Testing/foundation/test_layers.py`` lists this module as the one allowed exception.
"""

from __future__ import annotations

from typing import Any


def run_phantom_scenario(*args: Any, **kwargs: Any) -> dict[str, Any]:
    """``segthor.scenario.run_phantom_scenario`` (same arguments and result)."""
    from segthor.scenario import run_phantom_scenario as run

    return run(*args, **kwargs)
