"""The module file imports on every Slicer that may load it, and the declared minimum Slicer version agrees
everywhere it is stated.

Slicer 5.6 and 5.8 ship Python 3.9: the module must compile with 3.9's grammar and evaluate nothing newer
at import (annotations stay strings thanks to `from __future__ import annotations`, but the parameter node's
annotations are evaluated by `typing.get_type_hints`), so such a Slicer can show its "too old" message.
"""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
MODULE_PY = REPO / "SegTHORSlicer" / "SegTHORSlicer.py"
OLDEST_PYTHON = (3, 9)  # Slicer 5.6/5.8 (Slicer_REQUIRED_PYTHON_VERSION 3.9.10)


def _tree() -> ast.Module:
    return ast.parse(MODULE_PY.read_text(encoding="utf-8"), feature_version=OLDEST_PYTHON)


def _annotation_nodes(tree: ast.AST) -> set[int]:
    """ids of every node inside an annotation (never evaluated at run time, except the parameter node's)."""
    inside: set[int] = set()
    for node in ast.walk(tree):
        annotations = []
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            args = node.args
            annotations += [a.annotation for a in [*args.posonlyargs, *args.args, *args.kwonlyargs] if a.annotation]
            annotations += [a.annotation for a in (args.vararg, args.kwarg) if a is not None and a.annotation]
            annotations.append(node.returns)
        elif isinstance(node, ast.AnnAssign):
            annotations.append(node.annotation)
        for annotation in annotations:
            if annotation is not None:
                inside |= {id(n) for n in ast.walk(annotation)}
    return inside


def test_module_compiles_with_the_oldest_slicers_python_grammar():
    tree = _tree()
    first = [n for n in tree.body if not (isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant))][0]
    assert isinstance(first, ast.ImportFrom) and first.module == "__future__"
    assert [a.name for a in first.names] == ["annotations"]
    newer = [type(n).__name__ for n in ast.walk(tree) if type(n).__name__ in ("Match", "TryStar", "TypeAlias")]
    assert not newer, f"syntax newer than Python 3.9: {newer}"


def test_nothing_newer_than_python_39_is_evaluated_at_import_or_run_time():
    tree = _tree()
    in_annotation = _annotation_nodes(tree)
    problems = []
    for node in ast.walk(tree):
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr) and id(node) not in in_annotation:
            problems.append(f"line {node.lineno}: `X | Y` evaluated at run time (types union needs 3.10)")
        if isinstance(node, ast.Call) and any(k.arg == "strict" for k in node.keywords):
            problems.append(f"line {node.lineno}: zip(strict=...) needs Python 3.10")
        if isinstance(node, ast.Attribute) and node.attr in ("removesuffix_", "TypeAlias", "ParamSpec"):
            problems.append(f"line {node.lineno}: {node.attr} needs Python 3.10")
        if isinstance(node, ast.ImportFrom) and node.module == "typing":
            late = {a.name for a in node.names} & {"TypeAlias", "ParamSpec", "Concatenate", "TypeGuard", "Self"}
            if late:
                problems.append(f"line {node.lineno}: typing.{late} needs Python 3.10+")
    # The parameter node's annotations ARE evaluated (typing.get_type_hints), so no `|` there either.
    for cls in (n for n in tree.body if isinstance(n, ast.ClassDef)):
        if any(ast.unparse(d) == "parameterNodeWrapper" for d in cls.decorator_list):
            for stmt in (s for s in cls.body if isinstance(s, ast.AnnAssign)):
                if any(isinstance(n, ast.BinOp) for n in ast.walk(stmt.annotation)):
                    problems.append(f"line {stmt.lineno}: parameter annotations are evaluated; use Optional")
    assert not problems, problems


def test_segthor_imports_happen_after_the_version_check():
    # Top-level imports are Slicer's own; the Logic package (Python >= 3.10) is only imported inside functions.
    tree = _tree()
    top = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    names = {a.name.split(".")[0] for n in top if isinstance(n, ast.Import) for a in n.names}
    names |= {n.module.split(".")[0] for n in top if isinstance(n, ast.ImportFrom) and n.module}
    assert names <= {"__future__", "logging", "os", "sys", "typing", "qt", "slicer", "vtk", "ctk"}


def _declared_minimum() -> str:
    tree = _tree()
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "MINIMUM_SLICER_VERSION" for t in node.targets):
            return ".".join(str(v) for v in ast.literal_eval(node.value))
    raise AssertionError("MINIMUM_SLICER_VERSION not found in the module")


def test_the_minimum_slicer_version_agrees_everywhere():
    minimum = _declared_minimum()
    assert minimum == "5.10"  # vtkSegment::SetTerminology and Python 3.12 arrived in Slicer 5.10
    cmake = (REPO / "CMakeLists.txt").read_text(encoding="utf-8")
    assert re.search(rf"find_package\(Slicer {re.escape(minimum)} REQUIRED\)", cmake)
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert f"Slicer {minimum} or later" in readme
    guide = (REPO / "docs" / "slicer_module.md").read_text(encoding="utf-8")
    assert f"Slicer {minimum} or later" in guide


def test_dependencies_come_from_the_one_requirements_file():
    source = MODULE_PY.read_text(encoding="utf-8")
    assert "PIP_REQUIREMENTS" not in source
    assert not re.search(r"[\"'][A-Za-z0-9_.-]+(==|>=)\d", source), "no requirement strings in the module"
    assert "segthor.dependencies" in source and "installTorch(" in source and "testingEnabled()" in source
    assert "import slicer.packaging" in source and 'getattr(slicer, "packaging"' not in source


def test_the_widget_calls_only_what_the_runner_job_and_logic_provide():
    # The module cannot run here (no Slicer application); check its calls against the real classes instead.
    from segthor.logic import SegmentationLogic
    from segthor.runner.job import SegmentationProcessJob

    tree = _tree()
    job_calls = {
        n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute) and ast.unparse(n.value) in ("job", "self._job")
    }
    assert job_calls >= {"poll", "progress", "cancel", "finish", "close"}
    assert not {a for a in job_calls if not hasattr(SegmentationProcessJob, a)}, job_calls
    called = {n.func.attr for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)}
    assert "startSegmentation" in called
    job_params = set(inspect.signature(SegmentationProcessJob).parameters)
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and ast.unparse(node.func) == "SegmentationProcessJob":
            assert {k.arg for k in node.keywords} <= job_params
        if isinstance(node, ast.Call) and ast.unparse(node.func) == "SegmentationLogic":
            assert len(node.args) + len(node.keywords) <= len(inspect.signature(SegmentationLogic).parameters)
