"""SegTHORSlicer.py's widget and logic code run on slicer-core, without the Slicer application.

No Slicer application (Qt, PythonQt, the scripted-module base classes) can be installed here, so the few
pieces the module imports from it are replaced by minimal stand-ins (a timer, labels, combo boxes, buttons,
dialogs); everything else is real: the MRML scene, the child-process job, the commit, the dependency check.
What this covers is the module's own code paths (Apply -> polls -> one commit; Cancel; dependencies with one
confirmation; nothing installed in testing mode; the version check); the Qt wiring itself is checked against
the .ui file in Testing/foundation/test_slicer_extension_files.py.
"""

from __future__ import annotations

import contextlib
import importlib.util
import sys
import time
import types
from pathlib import Path

import numpy as np
import pytest
from segmentation_helpers import make_ct, scene_state

from segthor.mrml.volume_nodes import node_from_volume
from segthor.organs import ORGANS

pytestmark = pytest.mark.mrml

MODULE_PY = Path(__file__).resolve().parents[2] / "SegTHORSlicer" / "SegTHORSlicer.py"


class FakeApp:
    majorVersion, minorVersion = 5, 10  # noqa: N815 (Slicer's names)
    testing = False

    def __init__(self, tmp):
        self.temporaryPath = str(tmp)

    def testingEnabled(self):  # noqa: N802 (Slicer's name)
        return self.testing


class FakeTimer:
    def __init__(self):
        self.active = False

    def setInterval(self, ms):  # noqa: N802 (Qt's name)
        pass

    def connect(self, signal, slot):
        pass

    def start(self):
        self.active = True

    def stop(self):
        self.active = False


class FakeCombo:
    def __init__(self, items=()):
        self.items = list(items)
        self.currentIndex = 0

    @property
    def count(self):
        return len(self.items)

    @property
    def currentData(self):  # noqa: N802 (Qt's name)
        return self.items[self.currentIndex][1] if self.items else None

    def addItem(self, label, data=None):  # noqa: N802 (Qt's name)
        self.items.append((label, data if data is not None else label))

    def clear(self):
        self.items = []

    def findData(self, data):  # noqa: N802 (Qt's name)
        return next((i for i, (_label, d) in enumerate(self.items) if d == data), -1)

    def itemData(self, index):  # noqa: N802 (Qt's name)
        return self.items[index][1]

    def setCurrentIndex(self, index):  # noqa: N802 (Qt's name)
        self.currentIndex = index

    def setCurrentText(self, text):  # noqa: N802 (Qt's name)
        self.currentIndex = max(0, next((i for i, (label, _d) in enumerate(self.items) if label == text), 0))

    def blockSignals(self, block):  # noqa: N802 (Qt's name)
        return False


def _fake_slicer_gui(monkeypatch, tmp_path):
    """Stand-ins for the application-only modules SegTHORSlicer.py imports."""
    import slicer
    import slicer.util

    qt = types.ModuleType("qt")
    qt.QTimer = FakeTimer
    qt.QLabel = lambda text="": types.SimpleNamespace(text=text, wordWrap=False)
    i18n = types.ModuleType("slicer.i18n")
    i18n.tr = lambda text: text
    i18n.translate = lambda context, text: text
    wrapper = types.ModuleType("slicer.parameterNodeWrapper")
    wrapper.parameterNodeWrapper = lambda cls: cls
    wrapper.Choice = lambda choices: tuple(choices)
    base = types.ModuleType("slicer.ScriptedLoadableModule")
    for name in (
        "ScriptedLoadableModule",
        "ScriptedLoadableModuleWidget",
        "ScriptedLoadableModuleLogic",
        "ScriptedLoadableModuleTest",
    ):
        setattr(base, name, type(name, (), {"__init__": lambda self, *args, **kwargs: None}))
    for name, module in (
        ("qt", qt),
        ("slicer.i18n", i18n),
        ("slicer.parameterNodeWrapper", wrapper),
        ("slicer.ScriptedLoadableModule", base),
    ):
        monkeypatch.setitem(sys.modules, name, module)
    app = FakeApp(tmp_path)
    monkeypatch.setattr(slicer, "app", app, raising=False)
    monkeypatch.setattr(slicer.util, "WaitCursor", contextlib.nullcontext)
    spec = importlib.util.spec_from_file_location("SegTHORSlicer_under_test", MODULE_PY)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module, app


def _widget(module, volume_node, model_dir):
    widget = module.SegTHORSlicerWidget.__new__(module.SegTHORSlicerWidget)
    module.SegTHORSlicerWidget.__init__(widget)
    label = lambda: types.SimpleNamespace(text="")  # noqa: E731
    button = lambda: types.SimpleNamespace(enabled=False)  # noqa: E731
    widget.ui = types.SimpleNamespace(
        statusLabel=label(),
        modelInfoLabel=label(),
        progressBar=types.SimpleNamespace(value=0),
        applyButton=button(),
        cancelButton=button(),
        compareButton=button(),
        modelComboBox=FakeCombo([(str(model_dir), str(model_dir))]),
        deviceComboBox=FakeCombo([("cpu", "cpu")]),
        compareGridComboBox=FakeCombo([("input", "input volume"), ("ref", "reference segmentation")]),
        metricsTableView=types.SimpleNamespace(setMRMLTableNode=lambda node: None),
    )
    widget.logic = module.SegTHORSlicerLogic()
    widget._timer = FakeTimer()
    widget._parameterNode = types.SimpleNamespace(
        inputVolume=volume_node,
        outputSegmentation=None,
        referenceSegmentation=None,
        metricsTable=None,
        modelId=str(model_dir),
        device="cpu",
        replaceExisting=False,
        anatomicalRules=True,
        closeHoles=False,
        opening=False,
        largestComponent=False,
        compareGrid="input volume",
    )
    return widget


def test_apply_polls_the_child_and_commits_four_segments_once(monkeypatch, tmp_path, mrml_scene, tiny_model_dir):
    module, _app = _fake_slicer_gui(monkeypatch, tmp_path)
    node = node_from_volume(make_ct(shape=(6, 30, 30), direction=np.eye(3)), "CT", mrml_scene)
    widget = _widget(module, node, tiny_model_dir)
    widget.updateGUIFromParameterNode()
    assert widget.ui.applyButton.enabled and not widget.ui.cancelButton.enabled
    before = scene_state(mrml_scene)
    widget.onApplyButton()
    assert widget._job is not None and widget._timer.active, widget.ui.statusLabel.text
    assert not widget.ui.applyButton.enabled and widget.ui.cancelButton.enabled
    deadline = time.monotonic() + 120
    while widget._job is not None:
        assert time.monotonic() < deadline
        assert scene_state(mrml_scene) == before  # nothing changes before the commit
        widget.onPoll()
        time.sleep(0.05)
    seg = widget._parameterNode.outputSegmentation
    assert seg is not None, widget.ui.statusLabel.text
    assert seg.GetSegmentation().GetNumberOfSegments() == len(ORGANS)
    assert widget.ui.statusLabel.text.startswith("Done in") and widget.ui.progressBar.value == 100
    assert not widget._timer.active and widget.ui.applyButton.enabled
    assert list(tmp_path.glob("segthor-job-*")) == []  # the job's folder is gone


def test_cancel_leaves_the_scene_as_it_was(monkeypatch, tmp_path, mrml_scene, tiny_model_dir):
    module, _app = _fake_slicer_gui(monkeypatch, tmp_path)
    node = node_from_volume(make_ct(shape=(6, 30, 30), direction=np.eye(3)), "CT", mrml_scene)
    widget = _widget(module, node, tiny_model_dir)
    before = scene_state(mrml_scene)
    widget.onApplyButton()
    t0 = time.perf_counter()
    widget.onCancelButton()
    assert time.perf_counter() - t0 < 1.0
    assert widget._job is None and not widget._timer.active
    assert widget.ui.statusLabel.text == "Cancelled; nothing was changed."
    assert scene_state(mrml_scene) == before
    widget.onApplyButton()
    assert widget._job is not None
    widget.cleanup()  # the module is closed or reloaded while a job runs
    assert widget._job is None and not widget._timer.active and scene_state(mrml_scene) == before


def test_dependencies_one_confirmation_torch_through_pytorch_nothing_in_testing_mode(monkeypatch, tmp_path):
    import slicer

    import segthor.dependencies

    module, app = _fake_slicer_gui(monkeypatch, tmp_path)
    missing = ["torch>=2.1", "nibabel>=5.0"]
    monkeypatch.setattr(segthor.dependencies, "missing_requirements", lambda: list(missing))
    calls = []
    monkeypatch.setattr(
        slicer.util, "confirmOkCancelDisplay", lambda text, **kw: calls.append(("confirm", text)) or True
    )
    monkeypatch.setattr(
        slicer.util, "pip_install", lambda reqs: (calls.append(("pip", reqs)), missing.remove("nibabel>=5.0"))
    )
    monkeypatch.setattr(slicer.util, "errorDisplay", lambda text, **kw: calls.append(("error", text)))

    class FakePyTorchLogic:
        def installTorch(
            self,
            askConfirmation=False,
            forceComputationBackend=None,  # noqa: N802, N803
            torchVersionRequirement=None,
            torchvisionVersionRequirement=None,
        ):  # noqa: N803
            calls.append(("torch", askConfirmation, torchVersionRequirement))
            missing.remove("torch>=2.1")
            return object()

    monkeypatch.setitem(sys.modules, "PyTorchUtils", types.SimpleNamespace(PyTorchUtilsLogic=FakePyTorchLogic))
    monkeypatch.setitem(sys.modules, "slicer.packaging", None)  # Slicer 5.10: no slicer.packaging

    app.testing = True
    assert module.SegTHORSlicerLogic.ensureDependencies() is False and calls == []  # testing: install nothing
    app.testing = False
    assert module.SegTHORSlicerLogic.ensureDependencies() is True
    assert [c[0] for c in calls] == ["confirm", "torch", "pip"]
    assert "torch>=2.1" in calls[0][1] and "nibabel>=5.0" in calls[0][1]  # one dialog lists everything
    assert calls[1] == ("torch", False, ">=2.1") and calls[2] == ("pip", ["nibabel>=5.0"])


def test_version_check_message(monkeypatch, tmp_path):
    module, app = _fake_slicer_gui(monkeypatch, tmp_path)
    assert module.slicerVersionProblem() == ""
    app.majorVersion, app.minorVersion = 5, 8
    message = module.slicerVersionProblem()
    assert "needs 3D Slicer 5.10 or later" in message and "this is Slicer 5.8" in message


def test_slicer_512_packaging_gets_requirement_objects(monkeypatch, tmp_path):
    # slicer.packaging.pip_ensure (Slicer >= 5.12) takes packaging Requirement objects, not strings
    import slicer
    from packaging.requirements import Requirement

    import segthor.dependencies

    module, app = _fake_slicer_gui(monkeypatch, tmp_path)
    missing = ["nibabel>=5.0"]
    monkeypatch.setattr(segthor.dependencies, "missing_requirements", lambda: list(missing))
    monkeypatch.setattr(slicer.util, "confirmOkCancelDisplay", lambda text, **kw: True)
    received = []

    def pip_ensure(requirements, prompt_install=True, requester=None):
        received.extend(requirements)
        missing.clear()

    monkeypatch.setitem(sys.modules, "slicer.packaging", types.SimpleNamespace(pip_ensure=pip_ensure))
    app.testing = False
    assert module.SegTHORSlicerLogic.ensureDependencies() is True
    assert all(isinstance(r, Requirement) for r in received)
    assert [str(r) for r in received] == ["nibabel>=5.0"]


def test_postprocess_boxes_keep_the_defaults_and_add_the_ticked_steps(monkeypatch, tmp_path, tiny_model_dir):
    from segthor.inference.anatomy_rules import HU_RULES
    from segthor.inference.postprocess import PostprocessOptions

    module, _app = _fake_slicer_gui(monkeypatch, tmp_path)
    assert module.SegTHORSlicerParameterNode.anatomicalRules is True  # on in a new scene and in older scenes
    widget = _widget(module, None, tiny_model_dir)
    p = widget._parameterNode
    defaults = PostprocessOptions.default()

    def chosen():
        return PostprocessOptions.parse(widget.postprocessSpec() or None)

    assert widget.postprocessSpec() == []  # nothing changed: the defaults, recorded as such
    p.largestComponent = True
    options = chosen()
    for organ in ORGANS:  # the defaults stay, "lcc" is added (the aorta has none by default)
        assert set(options.for_organ(organ.key)) == set(defaults.for_organ(organ.key)) | {"lcc"}
    assert options.min_piece_mm3 == defaults.min_piece_mm3  # the aorta's drop=2ml too
    p.anatomicalRules = False
    options = chosen()
    for organ in ORGANS:  # the rules go, the other defaults and the ticked step stay
        expected = {s for s in defaults.for_organ(organ.key) if s not in HU_RULES} | {"lcc"}
        assert set(options.for_organ(organ.key)) == expected
    p.largestComponent = False
    p.closeHoles = p.opening = True
    options = chosen()
    assert options.for_organ("heart") == ("close", "open", "lcc", "fill")
    assert options.for_organ("aorta") == ("close", "open", "drop")


def test_apply_passes_the_postprocess_spec_to_the_job(monkeypatch, tmp_path, tiny_model_dir):
    module, _app = _fake_slicer_gui(monkeypatch, tmp_path)
    widget = _widget(module, object(), tiny_model_dir)
    widget._parameterNode.anatomicalRules = False
    received = {}
    monkeypatch.setattr(widget.logic, "ensureDependencies", lambda: True)
    monkeypatch.setattr(
        widget.logic, "startSegmentation", lambda *args, **kwargs: received.update(kwargs) or types.SimpleNamespace()
    )
    widget.onApplyButton()
    assert received["postprocess"] == widget.postprocessSpec()
    assert received["postprocess"] and not any("lungs" in s or "lumen" in s for s in received["postprocess"])
    widget._job = None
