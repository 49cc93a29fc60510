"""The one requirements file (Logic/segthor/requirements.txt): read by pyproject.toml and the Slicer module,
consistent with the exact pins of requirements/runtime.txt, and checked without importing anything."""

from __future__ import annotations

from pathlib import Path

import tomllib
from packaging.requirements import Requirement

from segthor.dependencies import (
    REQUIREMENTS_FILE,
    is_satisfied,
    missing_requirements,
    read_requirements,
    requirement_name,
    version_specifier,
)

REPO = Path(__file__).resolve().parents[2]


def test_the_file_holds_minimum_versions_only_and_pyproject_reads_it():
    lines = read_requirements()
    assert {requirement_name(r) for r in lines} >= {"torch", "numpy", "scipy", "SimpleITK", "nibabel"}
    assert all(version_specifier(r).startswith(">=") for r in lines), "minimum versions, not pins"
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    assert "dependencies" in project["project"]["dynamic"] and "dependencies" not in project["project"]
    files = project["tool"]["setuptools"]["dynamic"]["dependencies"]["file"]
    assert [REPO / f for f in files] == [REQUIREMENTS_FILE]


def test_the_development_pins_meet_the_minimums():
    pins = {}
    for line in read_requirements(REPO / "requirements" / "runtime.txt"):
        req = Requirement(line)
        pins[req.name.lower()] = next(iter(req.specifier)).version
    for line in read_requirements():
        req = Requirement(line)
        assert req.specifier.contains(pins[req.name.lower()]), f"requirements/runtime.txt pins {req.name} below {line}"


def test_missing_requirements_are_found_by_metadata(tmp_path):
    assert missing_requirements() == []  # this environment has everything
    assert is_satisfied("numpy>=1.0") and not is_satisfied("numpy>=999")
    assert not is_satisfied("no-such-distribution-segthor>=1")
    assert is_satisfied('no-such-distribution-segthor>=1; python_version < "3"')  # marker does not apply
    other = tmp_path / "req.txt"
    other.write_text("# comment\n-r other.txt\n\nnumpy>=999  # too new\nscipy>=1.0\n", encoding="utf-8")
    assert read_requirements(other) == ["numpy>=999", "scipy>=1.0"]
    assert missing_requirements(read_requirements(other)) == ["numpy>=999"]
