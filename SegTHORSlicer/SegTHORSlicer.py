"""SegTHORSlicer: segment the esophagus, heart, trachea and aorta in a CT into four editable segments.

Slicer glue only (widget wiring, parameter node, dependency installation, self-test). All the work is done by
the Qt-free `segthor` package (Logic/segthor in a source checkout, installed beside this file in the
extension), which the CLI and pytest use too. Inference runs in a child process (`segthor.runner`): Slicer's
main thread holds Python's GIL while it waits in the Qt event loop, so a Python thread would crawl.

This file must import on every Slicer that may load it, including 5.6/5.8 (Python 3.9): no syntax newer than
Python 3.9 (annotations stay strings thanks to the __future__ import), so an older Slicer can say clearly
that it is too old instead of failing with a SyntaxError (Testing/foundation/test_slicer_module_compat.py).
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Annotated

import qt
import slicer
import vtk
from slicer import (
    vtkMRMLScalarVolumeNode,
    vtkMRMLSegmentationNode,
    vtkMRMLTableNode,
)
from slicer.i18n import tr as _
from slicer.i18n import translate
from slicer.parameterNodeWrapper import Choice, parameterNodeWrapper
from slicer.ScriptedLoadableModule import (
    ScriptedLoadableModule,
    ScriptedLoadableModuleLogic,
    ScriptedLoadableModuleTest,
    ScriptedLoadableModuleWidget,
)
from slicer.util import VTKObservationMixin

# Slicer 5.10: Python 3.12 (the Logic package needs >= 3.10) and vtkSegment::SetTerminology (used to give
# every segment its SNOMED CT terminology). Also in CMakeLists.txt (find_package) and README.md.
MINIMUM_SLICER_VERSION = (5, 10)
DISCLAIMER = "demo weights, synthetic training data, not for clinical use"
POLL_INTERVAL_MS = 100
USER_GUIDE_URL = "https://github.com/segthor-slicer/SlicerSegTHOR/blob/main/docs/slicer_module.md"
COMPARE_GRIDS = ("input volume", "reference segmentation")  # parameter values; labels in setup()


def _logicRoot() -> str | None:
    """The folder holding the `segthor` package: beside this file (extension) or <repo>/Logic (checkout)."""
    here = os.path.dirname(os.path.abspath(__file__))
    for candidate in (here, os.path.normpath(os.path.join(here, os.pardir, "Logic"))):
        if os.path.isdir(os.path.join(candidate, "segthor")):
            return candidate
    return None


def _addLogicToPath() -> None:
    """Make `import segthor` work from a source checkout as in the packaged extension."""
    root = _logicRoot()
    if root and root not in sys.path:
        sys.path.insert(0, root)


_addLogicToPath()


def slicerVersionProblem() -> str:
    """Empty when this Slicer can run the module, else a message that says what to do."""
    current = (int(slicer.app.majorVersion), int(slicer.app.minorVersion))
    if current >= MINIMUM_SLICER_VERSION and sys.version_info >= (3, 10):
        return ""
    return _(
        "SegTHOR Organs at Risk needs 3D Slicer {minimum} or later; this is Slicer {current}. "
        "Install a newer Slicer from https://download.slicer.org, then install the extension again."
    ).format(minimum=".".join(str(v) for v in MINIMUM_SLICER_VERSION), current=".".join(str(v) for v in current))


#
# SegTHORSlicer
#


class SegTHORSlicer(ScriptedLoadableModule):
    def __init__(self, parent):
        ScriptedLoadableModule.__init__(self, parent)
        self.parent.title = _("SegTHOR Organs at Risk")
        self.parent.categories = [translate("qSlicerAbstractCoreModule", "Segmentation")]
        self.parent.dependencies = []
        self.parent.contributors = ["SegTHORSlicer contributors"]
        self.parent.helpText = _(
            "Segments the esophagus, heart, trachea and aorta in a thoracic CT into four editable segments "
            "with SNOMED CT terminology, and compares segmentations with a reference (Dice, HD95, ASSD). "
            "Bundled models are {disclaimer}. "
            'See the <a href="{url}">user guide</a> for each control and the workflow from the DICOM browser '
            "to the Segment Editor."
        ).format(disclaimer=DISCLAIMER, url=USER_GUIDE_URL)
        self.parent.acknowledgementText = _(
            "Methods follow the SegTHOR challenge papers (sU-Net, ENet, coarse-to-fine 3D networks)."
        )
        problem = slicerVersionProblem()
        if problem:
            self.parent.helpText = problem + "<br><br>" + self.parent.helpText
            logging.error(problem)  # shown in the application log at start-up


#
# Parameter node: the widget's choices, saved with the scene
#


@parameterNodeWrapper
class SegTHORSlicerParameterNode:
    """The widget's choices; stored in the scene so they survive save and load."""

    inputVolume: vtkMRMLScalarVolumeNode  # noqa: N815 (Slicer parameter names are camelCase)
    outputSegmentation: vtkMRMLSegmentationNode  # noqa: N815 (Slicer parameter names are camelCase)
    referenceSegmentation: vtkMRMLSegmentationNode  # noqa: N815 (Slicer parameter names are camelCase)
    metricsTable: vtkMRMLTableNode  # noqa: N815 (Slicer parameter names are camelCase)
    modelId: str = ""  # noqa: N815 (Slicer parameter names are camelCase)
    device: Annotated[str, Choice(["auto", "cpu", "cuda"])] = "auto"
    replaceExisting: bool = False  # noqa: N815 (Slicer parameter names are camelCase)
    anatomicalRules: bool = True  # noqa: N815 (Slicer parameter names are camelCase)
    closeHoles: bool = False  # noqa: N815 (Slicer parameter names are camelCase)
    opening: bool = False
    largestComponent: bool = False  # noqa: N815 (Slicer parameter names are camelCase)
    compareGrid: Annotated[str, Choice(list(COMPARE_GRIDS))] = COMPARE_GRIDS[0]  # noqa: N815 (camelCase)


#
# SegTHORSlicerWidget
#


class SegTHORSlicerWidget(ScriptedLoadableModuleWidget, VTKObservationMixin):
    def __init__(self, parent=None) -> None:
        ScriptedLoadableModuleWidget.__init__(self, parent)
        VTKObservationMixin.__init__(self)
        self.logic = None
        self.ui = None
        self._parameterNode = None
        self._parameterNodeGuiTag = None
        self._job = None
        self._timer = None
        self._installing = False
        self._models = {}

    def setup(self) -> None:
        ScriptedLoadableModuleWidget.setup(self)
        problem = slicerVersionProblem()
        if problem:  # nothing below may run on an older Slicer: say so and stop
            label = qt.QLabel(problem)
            label.wordWrap = True
            self.layout.addWidget(label)
            self.layout.addStretch(1)
            return
        uiWidget = slicer.util.loadUI(self.resourcePath("UI/SegTHORSlicer.ui"))
        self.layout.addWidget(uiWidget)
        self.ui = slicer.util.childWidgetVariables(uiWidget)
        uiWidget.setMRMLScene(slicer.mrmlScene)
        self.logic = SegTHORSlicerLogic()

        self._timer = qt.QTimer()
        self._timer.setInterval(POLL_INTERVAL_MS)
        self._timer.connect("timeout()", self.onPoll)

        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.StartCloseEvent, self.onSceneStartClose)
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.EndCloseEvent, self.onSceneEndClose)

        self.ui.compareGridComboBox.addItem(_("Input volume's grid"), COMPARE_GRIDS[0])
        self.ui.compareGridComboBox.addItem(_("Reference segmentation's grid"), COMPARE_GRIDS[1])
        self.ui.applyButton.connect("clicked(bool)", self.onApplyButton)
        self.ui.cancelButton.connect("clicked(bool)", self.onCancelButton)
        self.ui.compareButton.connect("clicked(bool)", self.onCompareButton)
        self.ui.modelComboBox.connect("currentIndexChanged(int)", self.onModelChanged)
        self.ui.deviceComboBox.connect("currentIndexChanged(int)", self.onDeviceChanged)
        self.ui.compareGridComboBox.connect("currentIndexChanged(int)", self.onCompareGridChanged)

        self.populateModels()
        self.initializeParameterNode()

    def cleanup(self) -> None:
        """Called when the application closes or the module is reloaded: stop the timer and the child."""
        if self._timer is not None:
            self._timer.stop()
        self.stopJob()
        self.removeObservers()

    def enter(self) -> None:
        if self.ui is not None:
            self.initializeParameterNode()

    def exit(self) -> None:
        if self._parameterNode:
            self._parameterNode.disconnectGui(self._parameterNodeGuiTag)
            self._parameterNodeGuiTag = None
            self.removeObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self.updateGUIFromParameterNode)

    def onSceneStartClose(self, caller, event) -> None:
        if self._job is not None:
            self._timer.stop()
            self.stopJob()
            self.setStatus(_("Cancelled: the scene was closed."), 0.0)
        self.setParameterNode(None)

    def onSceneEndClose(self, caller, event) -> None:
        if self.parent.isEntered:
            self.initializeParameterNode()

    def stopJob(self) -> None:
        """End a running child process and delete its temporary folder; the scene is left as it is."""
        job, self._job = self._job, None
        if job is not None:
            job.close()

    # -- parameter node --------------------------------------------------------------------------------

    def initializeParameterNode(self) -> None:
        self.setParameterNode(self.logic.getParameterNode())
        if not self._parameterNode.inputVolume:
            first = slicer.mrmlScene.GetFirstNodeByClass("vtkMRMLScalarVolumeNode")
            if first and not first.IsA("vtkMRMLLabelMapVolumeNode"):
                self._parameterNode.inputVolume = first
        if not self._parameterNode.modelId and self.ui.modelComboBox.count:
            self._parameterNode.modelId = self.defaultModelId()

    def defaultModelId(self) -> str:
        """The CLI's default model (segthor.model_packages.DEFAULT_MODEL_ID) when installed, else the first."""
        from segthor.model_packages import DEFAULT_MODEL_ID

        return DEFAULT_MODEL_ID if DEFAULT_MODEL_ID in self._models else self.ui.modelComboBox.itemData(0)

    def setParameterNode(self, inputParameterNode) -> None:
        if self._parameterNode:
            self._parameterNode.disconnectGui(self._parameterNodeGuiTag)
            self.removeObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self.updateGUIFromParameterNode)
        self._parameterNode = inputParameterNode
        if self._parameterNode:
            self._parameterNodeGuiTag = self._parameterNode.connectGui(self.ui)
            self.addObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self.updateGUIFromParameterNode)
            self.updateGUIFromParameterNode()

    def updateGUIFromParameterNode(self, caller=None, event=None) -> None:
        p = self._parameterNode
        if p is None or self.ui is None:
            return
        for combo, value in ((self.ui.modelComboBox, p.modelId), (self.ui.compareGridComboBox, p.compareGrid)):
            index = combo.findData(value) if value else 0
            wasBlocked = combo.blockSignals(True)
            combo.setCurrentIndex(max(index, 0))
            combo.blockSignals(wasBlocked)
        wasBlocked = self.ui.deviceComboBox.blockSignals(True)
        self.ui.deviceComboBox.setCurrentText(p.device)
        self.ui.deviceComboBox.blockSignals(wasBlocked)
        self.showModelInfo()
        busy = self._job is not None or self._installing
        self.ui.applyButton.enabled = bool(p.inputVolume) and self.ui.modelComboBox.count > 0 and not busy
        self.ui.cancelButton.enabled = self._job is not None
        self.ui.compareButton.enabled = bool(p.outputSegmentation and p.referenceSegmentation) and not busy
        if p.metricsTable:
            self.ui.metricsTableView.setMRMLTableNode(p.metricsTable)

    # -- models ----------------------------------------------------------------------------------------

    def populateModels(self) -> None:
        self.ui.modelComboBox.clear()
        self._models = {}
        try:
            from segthor.model_packages import list_models

            models = list_models()
        except Exception as exc:  # a broken catalogue must not break the module's GUI
            logging.warning(f"SegTHOR: cannot list models: {exc}")
            models = []
        for m in models:
            label = m["id"] + (" " + _("(default)") if m.get("default") else "")
            if DISCLAIMER in str(m.get("disclaimer", "")):
                label += f" — {DISCLAIMER}"
            self.ui.modelComboBox.addItem(label, m["id"])
            self._models[m["id"]] = m
        if not models:
            self.ui.modelInfoLabel.text = _("No model package found (see `segthor models`).")

    def showModelInfo(self) -> None:
        model = self._models.get(self.ui.modelComboBox.currentData) if self.ui.modelComboBox.count else None
        if not model:
            return
        parts = [
            _("{architecture}, {parameters} parameters").format(
                architecture=model.get("architecture", "?"), parameters=model.get("parameters") or "?"
            )
        ]
        if model.get("disclaimer"):
            parts.append(str(model["disclaimer"]))
        if model.get("error"):
            parts.append(_("unusable: {error}").format(error=model["error"]))
        self.ui.modelInfoLabel.text = ". ".join(parts)

    def onModelChanged(self, index: int) -> None:
        if self._parameterNode and index >= 0:
            self._parameterNode.modelId = self.ui.modelComboBox.itemData(index)

    def onDeviceChanged(self, index: int) -> None:
        if self._parameterNode and index >= 0:
            self._parameterNode.device = self.ui.deviceComboBox.currentText

    def onCompareGridChanged(self, index: int) -> None:
        if self._parameterNode and index >= 0:
            self._parameterNode.compareGrid = self.ui.compareGridComboBox.itemData(index)

    # -- segmentation ----------------------------------------------------------------------------------

    def setStatus(self, message: str, fraction: float | None = None) -> None:
        self.ui.statusLabel.text = message
        if fraction is not None:
            self.ui.progressBar.value = int(round(100 * fraction))

    def onApplyButton(self) -> None:
        if self._job is not None or self._installing:
            return
        p = self._parameterNode
        self._installing = True  # Apply stays disabled while pip runs (it processes events)
        self.updateGUIFromParameterNode()
        try:
            self.setStatus(_("Checking Python dependencies..."), 0.0)
            ready = self.logic.ensureDependencies()
        except Exception as exc:
            self.showError(exc)
            return
        finally:
            self._installing = False
            self.updateGUIFromParameterNode()
        if not ready:
            self.setStatus(_("Python dependencies are missing; nothing was changed (details in the Python console)."))
            return
        try:
            with slicer.util.WaitCursor():  # the input volume is written to the job's folder first
                self._job = self.logic.startSegmentation(
                    p.inputVolume,
                    p.outputSegmentation,
                    modelId=p.modelId or None,
                    device=p.device,
                    replaceExisting=p.replaceExisting,
                    postprocess=self.postprocessSpec(),
                )
        except Exception as exc:
            self.stopJob()
            self.showError(exc)
            return
        self.setStatus(_("Starting the segmentation process..."), 0.0)
        self._timer.start()
        self.updateGUIFromParameterNode()

    def postprocessSpec(self) -> list[str]:
        """The `--postprocess` specs of the ticked boxes: the product's defaults per organ ([] when exactly those),
        without the anatomical rules (lungs, extent, fat, lumen, neck, bridge) when their box is unticked, plus the
        ticked extra steps for every organ."""
        from segthor.inference.postprocess import specs_from_defaults

        p = self._parameterNode
        extra = [s for s, on in (("close", p.closeHoles), ("open", p.opening), ("lcc", p.largestComponent)) if on]
        return specs_from_defaults(extra, rules=p.anatomicalRules)

    def onPoll(self) -> None:
        """Timer tick: read the child's progress (never blocks); on its end, commit on this (main) thread."""
        job = self._job
        if job is None:
            self._timer.stop()
            return
        ended = job.poll()
        fraction, message = job.progress()
        self.setStatus(message, fraction)
        if not ended:
            return
        self._timer.stop()
        try:
            with slicer.util.WaitCursor():
                result = job.finish()  # one all-or-nothing commit into the segmentation node
            self._parameterNode.outputSegmentation = result.segmentation_node
            result.segmentation_node.CreateClosedSurfaceRepresentation()
            info = job.result_info
            self.setStatus(
                _("Done in {seconds:.1f} s on {device}: {segments} ready for editing.").format(
                    seconds=float((info.get("timings_s") or {}).get("total", 0.0)),
                    device=info.get("device", "?"),
                    segments=", ".join(result.segment_ids),
                )
                + self.plausibilityText(result),
                1.0,
            )
        except Exception as exc:
            self.showError(exc)
        finally:
            self.stopJob()
            self.updateGUIFromParameterNode()

    def plausibilityText(self, result) -> str:
        """' needs review: heart implausible, ...' per organ; the full reasons go to the tooltip (and tags)."""
        from segthor.quality import status_text, summary_lines

        quality = getattr(result, "quality", None)
        self.ui.statusLabel.toolTip = "\n".join(summary_lines(quality)) if quality else ""
        return f" {status_text(quality)}" if quality else ""

    def showError(self, exc: Exception) -> None:
        from segthor.errors import CancelledError, SegthorError

        if isinstance(exc, CancelledError):
            self.setStatus(_("Cancelled; nothing was changed."), 0.0)
        elif isinstance(exc, SegthorError):
            self.setStatus(_("Error: {message}").format(message=exc), 0.0)
            slicer.util.errorDisplay(str(exc))
        else:
            logging.exception("SegTHOR failed")
            self.setStatus(_("Unexpected error: {message} (details in the Python console)").format(message=exc), 0.0)

    def onCancelButton(self) -> None:
        if self._job is not None:
            self.setStatus(_("Cancelling..."))
            self._job.cancel()  # ends the child within about a second
            self.onPoll()

    def onCompareButton(self) -> None:
        p = self._parameterNode
        gridNode = p.referenceSegmentation if p.compareGrid == COMPARE_GRIDS[1] else p.inputVolume
        try:
            with slicer.util.WaitCursor():
                table, _metrics = self.logic.compare(
                    p.outputSegmentation, p.referenceSegmentation, gridNode, p.metricsTable
                )
            p.metricsTable = table
            self.ui.metricsTableView.setMRMLTableNode(table)
            self.setStatus(_("Metrics in table '{name}'.").format(name=table.GetName()))
        except Exception as exc:
            self.showError(exc)


#
# SegTHORSlicerLogic: dependency installation and a thin wrapper over the segthor package
#


class SegTHORSlicerLogic(ScriptedLoadableModuleLogic):
    def __init__(self) -> None:
        ScriptedLoadableModuleLogic.__init__(self)

    def getParameterNode(self):
        return SegTHORSlicerParameterNode(super().getParameterNode())

    @staticmethod
    def missingRequirements() -> list[str]:
        """Lines of segthor/requirements.txt (minimum versions) not satisfied in Slicer's Python."""
        from segthor.dependencies import missing_requirements

        return missing_requirements()

    @staticmethod
    def ensureDependencies(confirm: bool = True) -> bool:
        """Install what the logic needs, after one confirmation listing it all; never at import, never in
        testing mode. torch comes through the PyTorch extension (PyTorchUtils) with the version the
        requirements file asks for. Returns True when everything is there."""
        from segthor.dependencies import requirement_name, version_specifier

        missing = SegTHORSlicerLogic.missingRequirements()
        if not missing:
            return True
        if slicer.app.testingEnabled():  # build machines and self-tests never install anything
            logging.warning(f"SegTHOR: missing Python packages in testing mode, not installing: {missing}")
            return False
        torch = [r for r in missing if requirement_name(r) == "torch"]
        others = [r for r in missing if requirement_name(r) != "torch"]
        pyTorchUtils = None
        if torch:
            try:
                import PyTorchUtils

                pyTorchUtils = PyTorchUtils
            except ImportError:
                slicer.util.errorDisplay(
                    _(
                        "SegTHOR needs PyTorch: install the 'PyTorch' extension in the "
                        "Extensions Manager, restart Slicer, then press Apply again."
                    )
                )
                return False
        listing = [_("{requirement} (through the PyTorch extension)").format(requirement=r) for r in torch] + others
        if confirm and not slicer.util.confirmOkCancelDisplay(
            _(
                "SegTHOR will download and install these Python packages into Slicer (this can take some "
                "minutes):\n\n{packages}\n\nInstall now?"
            ).format(packages="\n".join(listing)),
            windowTitle=_("SegTHOR: install Python packages"),
        ):
            return False
        with slicer.util.WaitCursor():
            if torch:
                installed = pyTorchUtils.PyTorchUtilsLogic().installTorch(
                    askConfirmation=False, torchVersionRequirement=version_specifier(torch[0])
                )
                if installed is None:
                    return False
            if others:
                try:
                    import slicer.packaging as slicerPackaging  # Slicer >= 5.12
                except ImportError:
                    slicerPackaging = None
                if slicerPackaging is not None:
                    # pip_ensure takes packaging Requirement objects, not strings (Slicer's slicer/packaging.py);
                    # packaging is there whenever slicer.packaging imports, since it is built on it.
                    from packaging.requirements import Requirement

                    slicerPackaging.pip_ensure(
                        [Requirement(r) for r in others], prompt_install=False, requester="SegTHOR"
                    )
                else:
                    slicer.util.pip_install(others)
        still = SegTHORSlicerLogic.missingRequirements()
        if still:
            logging.error(f"SegTHOR: still missing after installation: {still}")
        return not still

    def startSegmentation(
        self, volumeNode, segmentationNode=None, modelId=None, device="auto", replaceExisting=False, postprocess=None
    ):
        """Start a child-process segmentation; poll the returned job from a timer and call `finish()` on the
        main thread once `poll()` is True, then `close()`."""
        from segthor.runner.job import SegmentationProcessJob

        job = SegmentationProcessJob(
            volumeNode,
            segmentationNode,
            replaceExisting,
            model=modelId,
            device=device,
            postprocess=postprocess,
            work_root=slicer.app.temporaryPath,
        )
        return job.start()

    def process(
        self,
        volumeNode,
        segmentationNode=None,
        modelId=None,
        device="auto",
        replaceExisting=False,
        postprocess=None,
        progress=None,
    ):
        """Segment synchronously in this process (scripts, tests); returns the segthor NodeResult."""
        from segthor.logic import SegmentationLogic

        logic = SegmentationLogic(modelId, device, postprocess or None, progress=progress)
        return logic.segment_node(volumeNode, segmentationNode, replaceExisting)

    def compare(self, segmentationNode, referenceNode, gridNode=None, tableNode=None):
        """Per-organ metrics into a table, on the grid of `gridNode` (a volume, or the reference segmentation)."""
        from segthor.logic import SegmentationLogic

        return SegmentationLogic().compare(segmentationNode, referenceNode, gridNode, tableNode)


#
# SegTHORSlicerTest
#


class SegTHORSlicerTest(ScriptedLoadableModuleTest):
    """Real inference on the bundled phantom; the same scenario runs under pytest on slicer-core
    (Testing/segmentation/test_scenario.py). Installs nothing: skipped where the dependencies are missing
    (the extension build machines run it in testing mode)."""

    def setUp(self):
        slicer.mrmlScene.Clear()

    def runTest(self):
        self.setUp()
        self.test_SegTHORSlicerPhantom()
        self.setUp()
        self.test_SegTHORSlicerChildProcess()

    def test_SegTHORSlicerPhantom(self):
        if slicerVersionProblem():
            self.skipTest(slicerVersionProblem())
        missing = SegTHORSlicerLogic.missingRequirements()
        if missing:
            self.skipTest(f"Python dependencies not installed: {', '.join(missing)}")
        self.delayDisplay("Segmenting the bundled phantom")
        from segthor.scenario import run_phantom_scenario

        outcome = run_phantom_scenario(device="auto", min_mean_dice=0.5)
        self.assertEqual(outcome["table_node"].GetTable().GetNumberOfRows(), 4)
        self.delayDisplay(f"Mean Dice on the phantom: {outcome['mean_dice']:.3f} ({DISCLAIMER})")

    def test_SegTHORSlicerChildProcess(self):
        """The widget's path: PythonSlicer child process, polled while Slicer's event loop runs, one commit."""
        import time

        if slicerVersionProblem():
            self.skipTest(slicerVersionProblem())
        missing = SegTHORSlicerLogic.missingRequirements()
        if missing:
            self.skipTest(f"Python dependencies not installed: {', '.join(missing)}")
        from segthor.mrml.volume_nodes import node_from_volume
        from segthor.phantom import sample_case

        self.delayDisplay("Segmenting the phantom in a child process")
        volumeNode = node_from_volume(sample_case().ct, "phantom CT")
        job = SegTHORSlicerLogic().startSegmentation(volumeNode, device="cpu")
        try:
            deadline = time.monotonic() + 600
            while not job.poll():
                self.assertLess(time.monotonic(), deadline, "the segmentation process did not finish")
                slicer.app.processEvents()
                time.sleep(0.1)
            result = job.finish()
        finally:
            job.close()
        self.assertEqual(len(result.segment_ids), 4)
        self.delayDisplay(f"Child process done on {job.result_info.get('device')}")
