"""Checks on the Slicer-side files that can only run inside Slicer: .ui validity, widget names, CMake, catalogue."""

from __future__ import annotations

import ast
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
MODULE_DIR = REPO / "SegTHORSlicer"
MODULE_PY = MODULE_DIR / "SegTHORSlicer.py"
UI_FILE = MODULE_DIR / "Resources" / "UI" / "SegTHORSlicer.ui"


def _ui_widget_names() -> set[str]:
    root = ET.parse(UI_FILE).getroot()  # raises on malformed XML
    assert root.tag == "ui"
    return {w.get("name") for w in root.iter("widget") if w.get("name")} | {
        a.get("name") for a in root.iter("action") if a.get("name")
    }


def test_ui_file_is_a_valid_qt_designer_file():
    root = ET.parse(UI_FILE).getroot()
    assert root.get("version") == "4.0"
    top = root.find("widget")
    assert top is not None and top.get("class") in ("qMRMLWidget", "QWidget")
    # Every custom widget class used must be declared, or Slicer's UI loader fails at run time.
    std_prefixes = ("Q",)
    declared = {c.findtext("class") for c in root.iter("customwidget")}
    used = {w.get("class") for w in root.iter("widget")}
    undeclared = {c for c in used if not c.startswith(std_prefixes) and c not in declared}
    assert not undeclared, f"custom widgets used but not declared in <customwidgets>: {undeclared}"


def test_every_ui_name_the_widget_uses_exists_in_the_ui_file():
    names = _ui_widget_names()
    used = set(re.findall(r"self\.ui\.(\w+)", MODULE_PY.read_text(encoding="utf-8")))
    assert used, "the widget should use its .ui file through self.ui"
    missing = sorted(used - names)
    assert not missing, f"SegTHORSlicer.py uses self.ui.<name> missing from the .ui: {missing}"


def test_every_slicer_parameter_name_in_the_ui_is_a_parameter_of_the_module():
    # connectGui binds widgets to parameters by this property; a name the parameter node lacks fails in Slicer.
    root = ET.parse(UI_FILE).getroot()
    names = {
        w.get("name"): p.findtext("string")
        for w in root.iter("widget")
        for p in w.findall("property")
        if p.get("name") == "SlicerParameterName"
    }
    tree = ast.parse(MODULE_PY.read_text(encoding="utf-8"))
    node_class = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "SegTHORSlicerParameterNode")
    fields = {n.target.id for n in node_class.body if isinstance(n, ast.AnnAssign)}
    assert names and set(names.values()) <= fields, set(names.values()) - fields
    assert names["anatomicalRulesCheckBox"] == "anatomicalRules"


def test_mrml_widgets_get_the_scene():
    # qMRML widgets need setMRMLScene; Designer wires it through the mrmlSceneChanged signal connection.
    root = ET.parse(UI_FILE).getroot()
    mrml_widgets = {w.get("name") for w in root.iter("widget") if (w.get("class") or "").startswith("qMRML")}
    mrml_widgets.discard(root.find("widget").get("name"))
    scene_slot = "setMRMLScene(vtkMRMLScene*)"
    wired = {c.findtext("receiver") for c in root.iter("connection") if c.findtext("slot") == scene_slot}
    assert mrml_widgets <= wired, f"qMRML widgets without the scene connection: {mrml_widgets - wired}"


def test_module_file_has_the_four_scripted_module_classes_and_no_top_level_heavy_imports():
    tree = ast.parse(MODULE_PY.read_text(encoding="utf-8"))
    classes = {n.name: [ast.unparse(b) for b in n.bases] for n in tree.body if isinstance(n, ast.ClassDef)}
    assert "ScriptedLoadableModule" in classes["SegTHORSlicer"]
    assert any("ScriptedLoadableModuleWidget" in b for b in classes["SegTHORSlicerWidget"])
    assert "ScriptedLoadableModuleLogic" in classes["SegTHORSlicerLogic"]
    assert "ScriptedLoadableModuleTest" in classes["SegTHORSlicerTest"]
    top_imports = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            top_imports |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            top_imports.add(node.module.split(".")[0])
    # Dependencies are installed on first use, so importing the module must not need them.
    assert not top_imports & {"torch", "numpy", "SimpleITK", "scipy", "safetensors", "segthor"}


def test_module_cmakelists_lists_existing_files():
    text = (MODULE_DIR / "CMakeLists.txt").read_text(encoding="utf-8")
    assert "slicerMacroBuildScriptedModule" in text and "WITH_GENERIC_TESTS" in text
    assert "slicer_add_python_unittest(SCRIPT ${MODULE_NAME}.py)" in text
    for rel in ("Resources/Icons/${MODULE_NAME}.png", "Resources/UI/${MODULE_NAME}.ui"):
        assert (MODULE_DIR / rel.replace("${MODULE_NAME}", "SegTHORSlicer")).exists()


def test_root_cmakelists_has_extension_metadata():
    text = (REPO / "CMakeLists.txt").read_text(encoding="utf-8")
    for key in ("HOMEPAGE", "CATEGORY", "CONTRIBUTORS", "DESCRIPTION", "ICONURL", "SCREENSHOTURLS", "DEPENDS"):
        assert re.search(rf"set\(EXTENSION_{key} ", text), key
    assert 'set(EXTENSION_CATEGORY "Segmentation")' in text
    assert re.search(r'set\(EXTENSION_DEPENDS "[^"]*PyTorch', text)
    assert re.search(r"find_package\(Slicer [\d.]+ REQUIRED\)", text)  # a declared minimum Slicer version
    assert "add_subdirectory(SegTHORSlicer)" in text
    assert "Slicer_EXTENSION_GENERATE_CONFIG" in text and "Slicer_EXTENSION_CPACK" in text


# Keys and types of Slicer's extension catalogue entry schema (v1.0.2): required $schema, category, scm_url;
# no other properties than these.
_CATALOG_KEYS = {
    "$schema": str,
    "category": str,
    "scm_url": str,
    "scm_revision": str,
    "scm_type": str,
    "build_dependencies": list,
    "dicom_support_rule": str,
    "build_subdirectory": str,
    "enabled": bool,
    "tier": int,
}


def test_extensions_index_entry_follows_the_catalogue_schema():
    entry = json.loads((REPO / "SegTHORSlicer.json").read_text(encoding="utf-8"))
    for required in ("$schema", "category", "scm_url"):
        assert required in entry
    for key, value in entry.items():
        assert key in _CATALOG_KEYS, f"property not allowed by the schema: {key}"
        assert isinstance(value, _CATALOG_KEYS[key]), key
    assert entry["category"] == "Segmentation"
    assert "PyTorch" in entry["build_dependencies"]
    assert entry.get("scm_type", "git") in ("git", "local")
    assert 1 <= entry.get("tier", 1) <= 5


def test_extensions_index_description_checks():
    """The offline checks of ExtensionsIndex's scripts/check_description_files.py on SegTHORSlicer.json."""
    from urllib.parse import urlsplit

    path = REPO / "SegTHORSlicer.json"
    raw = path.read_bytes()
    assert b"\r" not in raw, "LF line endings only"
    entry = json.loads(raw)
    extension_name = path.stem
    # The extension name must not start with "Slicer"; the git repository name must.
    assert not extension_name.lower().startswith("slicer")
    url = urlsplit(entry["scm_url"].strip().strip("/"))
    assert url.scheme in ("git", "https")
    repo_name = Path(url.path).name.removesuffix(".git")
    prefixes = ("Slicer", "Slicer-", "Slicer_", "SlicerExtension-", "SlicerExtension_")
    assert any(repo_name.startswith(p) for p in prefixes), f"repository {repo_name} must start with Slicer"
    # The top-level CMake project is named like the description file, with icon and screenshot URLs.
    cmake = (REPO / "CMakeLists.txt").read_text(encoding="utf-8")
    assert re.findall(r"project\s*\(\s*([^\s\)\n\r]+)", cmake, re.IGNORECASE)[0] == extension_name
    icon = re.findall(r'set\s*\(EXTENSION_ICONURL\s*"([^"]+)"[ ]*\)', cmake)
    shots = re.findall(r'set\s*\(EXTENSION_SCREENSHOTURLS\s*"([^"]+)"\)', cmake)
    assert icon and shots
    # Icon and screenshots point into the same repository, at files that exist here.
    for image_url in [icon[0], *shots[0].split()]:
        assert f"/{repo_name}/" in image_url and image_url.startswith("https://")
        assert (REPO / image_url.split("/main/", 1)[1]).is_file(), image_url
    assert (REPO / "LICENSE").is_file()


@pytest.mark.parametrize("path", ["README.md", "LICENSE", ".ci/run", "Makefile", "pyproject.toml"])
def test_top_level_files_exist(path):
    assert (REPO / path).is_file()


def test_ci_runs_make_test():
    assert "make test" in (REPO / ".ci" / "run").read_text(encoding="utf-8")
