"""The Logic package imports without Qt (and without torch or slicer until a function needs them)."""

from __future__ import annotations

import json
import subprocess
import sys

import segthor

HEAVY = ("PyQt5", "PyQt6", "PySide2", "PySide6", "qt", "ctk", "torch", "slicer", "vtk")


def _modules_loaded_by(statement: str) -> set[str]:
    code = f"import sys, json; {statement}; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_import_segthor_is_light():
    loaded = _modules_loaded_by("import segthor")
    assert not {m for m in loaded if m.split(".")[0] in HEAVY}


def test_cli_help_does_not_import_torch_or_slicer():
    loaded = _modules_loaded_by("from segthor.cli.main import build_parser; build_parser()")
    assert not {m for m in loaded if m.split(".")[0] in HEAVY}


def test_no_logic_module_imports_qt():
    # Qt-free by construction: no module under Logic/ mentions a Qt binding in an import.
    root = __import__("pathlib").Path(segthor.__file__).parent
    offenders = []
    for path in root.rglob("*.py"):
        for line in path.read_text(encoding="utf-8").splitlines():
            stripped = line.strip()
            if stripped.startswith(("import ", "from ")):
                first = stripped.split()[1].split(".")[0]
                if first in ("qt", "ctk", "PyQt5", "PyQt6", "PySide2", "PySide6", "slicer") and (
                    "mrml" not in path.parts
                ):
                    offenders.append(f"{path.relative_to(root)}: {stripped}")
    assert not offenders, offenders


def test_only_the_mrml_subpackage_imports_slicer():
    loaded = _modules_loaded_by(
        "import importlib, pkgutil, segthor; "
        "[importlib.import_module(m.name) for m in pkgutil.walk_packages(segthor.__path__, 'segthor.') "
        "if '.mrml' not in m.name and not m.name.endswith('__main__') and m.name != 'segthor.demo']"
    )
    assert "slicer" not in loaded
    assert not {m for m in loaded if m.split(".")[0] in ("qt", "ctk", "PyQt5", "PySide6")}


def test_version_is_consistent():
    meta = __import__("importlib.metadata").metadata.version("segthor-slicer")
    assert meta == segthor.__version__
    assert json.dumps(segthor.__version__)
