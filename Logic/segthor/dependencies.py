"""Which of the package's run-time requirements are missing, read from the one requirements file.

`Logic/segthor/requirements.txt` holds minimum versions (`name>=x.y`); pyproject.toml takes the package's
dependencies from it and the Slicer module offers to install what this module reports missing. Needs only the
standard library and `packaging` (bundled with 3D Slicer and with pip).
"""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

REQUIREMENTS_FILE = Path(__file__).with_name("requirements.txt")


def read_requirements(path: str | Path = REQUIREMENTS_FILE) -> list[str]:
    """The requirement lines of a requirements file (comments, blank lines and pip options skipped)."""
    lines = []
    for raw in Path(path).read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            lines.append(line)
    return lines


def requirement_name(requirement: str) -> str:
    """The distribution name of a requirement line ('torch>=2.1' -> 'torch')."""
    from packaging.requirements import Requirement

    return Requirement(requirement).name


def version_specifier(requirement: str) -> str:
    """The version part of a requirement line ('torch>=2.1' -> '>=2.1'; '' when unconstrained)."""
    from packaging.requirements import Requirement

    return str(Requirement(requirement).specifier)


def is_satisfied(requirement: str) -> bool:
    """True when the installed distribution meets the requirement (by metadata; nothing is imported)."""
    from packaging.requirements import Requirement

    req = Requirement(requirement)
    if req.marker is not None and not req.marker.evaluate():
        return True
    try:
        installed = importlib.metadata.version(req.name)
    except importlib.metadata.PackageNotFoundError:
        return False
    return req.specifier.contains(installed, prereleases=True)


def missing_requirements(requirements: list[str] | None = None) -> list[str]:
    """The requirement lines not satisfied in this Python environment, in file order."""
    return [r for r in (read_requirements() if requirements is None else requirements) if not is_satisfied(r)]
