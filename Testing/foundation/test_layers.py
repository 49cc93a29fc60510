"""The import graph follows the layers of docs/architecture.md: every import of a segthor or segthor_training
module (at module level or inside a function, parsed with ``ast``) goes from a layer to one the table allows."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCES = (ROOT / "Logic", ROOT / "Training")

# Layer of each package or module; the longest matching prefix wins. Keep in step with docs/architecture.md.
LAYERS = {
    "segthor.cli": "front",
    "segthor.api": "front",
    "segthor.__main__": "front",
    "segthor.demo": "front",
    "segthor.scenario": "front",
    "segthor.runner": "front",  # runs the logic in a child process for the Slicer module
    "segthor.logic": "orchestration",  # facade, file_case, node_case, case_report (the case JSON)
    "segthor.batch_runner": "orchestration",
    "segthor.mrml": "adapters",
    "segthor.outputs": "adapters",
    "segthor.inference": "steps",
    "segthor.metrics": "steps",
    "segthor.phantom": "steps",
    "segthor.quality": "steps",
    "segthor.networks": "leaves",
    "segthor.preprocessing": "leaves",
    "segthor.model_packages": "leaves",
    "segthor.io": "leaves",
    "segthor.organs": "leaves",
    "segthor.errors": "leaves",
    "segthor.devices": "leaves",
    "segthor.boxes": "leaves",
    "segthor.class_argmax": "leaves",  # class index per voxel: inferers and restore_probabilities
    "segthor.hounsfield": "leaves",  # HU thresholds between tissues: the clean-up rules and the input checks
    "segthor.render": "leaves",
    "segthor.case_layout": "leaves",
    "segthor.segment_mapping": "leaves",
    "segthor.dicom_rt": "leaves",  # RTSTRUCT / SEG writers and readers (pydicom, highdicom)
    "segthor.dependencies": "leaves",
    "segthor._version": "leaves",
    "segthor_training": "training",
}

# layer -> layers it may import (its own layer included where listed).
ALLOWED = {
    "front": {"front", "orchestration", "adapters", "steps", "leaves", "training"},
    "orchestration": {"adapters", "steps", "leaves"},
    "adapters": {"adapters", "steps", "leaves"},
    "steps": {"leaves"},
    "leaves": {"leaves"},
    "training": {"training", "steps", "leaves"},
}

# Imports that break the table on purpose, each with its reason; keep this list short.
EXCEPTIONS = {}


def layer_of(module: str) -> str:
    """The layer of a module; a new ``segthor.<name>`` must be placed in LAYERS explicitly."""
    parts = module.split(".")
    if module == "segthor":
        return "leaves"  # the package itself: version and errors only
    if parts[0] == "segthor_training":
        return LAYERS["segthor_training"]
    for n in range(len(parts), 1, -1):
        layer = LAYERS.get(".".join(parts[:n]))
        if layer is not None:
            return layer
    raise KeyError(f"{module} is in no layer: add it to LAYERS and docs/architecture.md")


def same_package(a: str, b: str) -> bool:
    """Inside one package (``segthor.metrics.x`` and ``segthor.metrics.y``) imports are free."""
    training = a.startswith("segthor_training") and b.startswith("segthor_training")
    return training or a.split(".")[:2] == b.split(".")[:2]


def module_name(path: Path, source: Path) -> str:
    parts = list(path.relative_to(source).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, module: str) -> set[str]:
    """Every project module that ``path`` imports, relative imports resolved."""
    found = set()
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            names = [base]
        else:
            continue
        found.update(n for n in names if n.split(".")[0] in ("segthor", "segthor_training"))
    return found


def all_modules() -> list[tuple[Path, str]]:
    return [(p, module_name(p, s)) for s in SOURCES for p in sorted(s.rglob("*.py"))]


def test_every_module_is_in_a_layer():
    for _, module in all_modules():
        assert layer_of(module) in ALLOWED


def test_imports_follow_the_layers():
    offenders = []
    for path, module in all_modules():
        for target in imported_modules(path, module):
            if same_package(module, target) or (module, target) in EXCEPTIONS:
                continue
            if layer_of(target) not in ALLOWED[layer_of(module)]:
                offenders.append(f"{module} ({layer_of(module)}) imports {target} ({layer_of(target)})")
    assert not offenders, "imports against docs/architecture.md:\n" + "\n".join(sorted(offenders))


def test_the_checker_sees_function_level_and_relative_imports(tmp_path):
    pkg = tmp_path / "segthor" / "metrics"
    pkg.mkdir(parents=True)
    (pkg / "x.py").write_text("from . import y\ndef f():\n    from segthor.logic import g\n", encoding="utf-8")
    found = imported_modules(pkg / "x.py", "segthor.metrics.x")
    assert found == {"segthor.metrics", "segthor.logic"}
    assert layer_of("segthor.logic") not in ALLOWED[layer_of("segthor.metrics.x")]


def test_each_exception_still_exists():
    modules = dict((m, p) for p, m in all_modules())
    for module, target in sorted(EXCEPTIONS):
        path = modules[module]
        assert target in imported_modules(path, module), f"{module} no longer imports {target}: drop the exception"
