"""SegTHORSlicer: segment the esophagus, heart, trachea and aorta in a CT into four editable segments.

Slicer glue only (widget wiring, parameter node, dependency installation, self-test). All the work is
done by the Qt-free `segthor` package (Logic/segthor in a source checkout, installed beside this file in
the extension), which the CLI and pytest use too.
"""

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
from slicer.parameterNodeWrapper import Choice, parameterNodeWrapper
from slicer.ScriptedLoadableModule import (
    ScriptedLoadableModule,
    ScriptedLoadableModuleLogic,
    ScriptedLoadableModuleTest,
    ScriptedLoadableModuleWidget,
)
from slicer.util import VTKObservationMixin

DISCLAIMER = "demo weights, synthetic training data, not for clinical use"
# Python packages the logic needs beyond what Slicer bundles (SimpleITK, numpy, vtk); torch comes from the
# PyTorch extension. Pins match requirements/runtime.txt.
PIP_REQUIREMENTS = ("scipy==1.17.1", "nibabel==5.4.2", "safetensors==0.8.0", "tqdm==4.70.1", "pillow==13.0.0")
POLL_INTERVAL_MS = 100


def _add_logic_to_path() -> None:
    """Make `import segthor` work from a source checkout (<repo>/Logic) as in the packaged extension."""
    here = os.path.dirname(os.path.abspath(__file__))
    for candidate in (here, os.path.normpath(os.path.join(here, os.pardir, "Logic"))):
        if os.path.isdir(os.path.join(candidate, "segthor")) and candidate not in sys.path:
            sys.path.insert(0, candidate)
            return


_add_logic_to_path()


#
# SegTHORSlicer
#


class SegTHORSlicer(ScriptedLoadableModule):
    def __init__(self, parent):
        ScriptedLoadableModule.__init__(self, parent)
        self.parent.title = "SegTHOR Organs at Risk"
        self.parent.categories = ["Segmentation"]
        self.parent.dependencies = []
        self.parent.contributors = ["SegTHORSlicer contributors"]
        self.parent.helpText = (
            "Segments the esophagus, heart, trachea and aorta in a thoracic CT into four editable segments "
            "with SNOMED CT terminology, and compares segmentations with a reference (Dice, HD95, ASSD). "
            f"Bundled models are {DISCLAIMER}."
        )
        self.parent.acknowledgementText = (
            "Methods follow the SegTHOR challenge papers (sU-Net, ENet, coarse-to-fine 3D networks)."
        )


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
    closeHoles: bool = False  # noqa: N815 (Slicer parameter names are camelCase)
    opening: bool = False
    largestComponent: bool = False  # noqa: N815 (Slicer parameter names are camelCase)


#
# SegTHORSlicerWidget
#


class SegTHORSlicerWidget(ScriptedLoadableModuleWidget, VTKObservationMixin):
    def __init__(self, parent=None) -> None:
        ScriptedLoadableModuleWidget.__init__(self, parent)
        VTKObservationMixin.__init__(self)
        self.logic = None
        self._parameterNode = None
        self._parameterNodeGuiTag = None
        self._job = None
        self._timer = None
        self._models = {}

    def setup(self) -> None:
        ScriptedLoadableModuleWidget.setup(self)
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

        self.ui.applyButton.connect("clicked(bool)", self.onApplyButton)
        self.ui.cancelButton.connect("clicked(bool)", self.onCancelButton)
        self.ui.compareButton.connect("clicked(bool)", self.onCompareButton)
        self.ui.modelComboBox.connect("currentIndexChanged(int)", self.onModelChanged)
        self.ui.deviceComboBox.connect("currentIndexChanged(int)", self.onDeviceChanged)

        self.populateModels()
        self.initializeParameterNode()

    def cleanup(self) -> None:
        if self._job is not None:
            self._job.cancel()
        self.removeObservers()

    def enter(self) -> None:
        self.initializeParameterNode()

    def exit(self) -> None:
        if self._parameterNode:
            self._parameterNode.disconnectGui(self._parameterNodeGuiTag)
            self._parameterNodeGuiTag = None
            self.removeObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self.updateGUIFromParameterNode)

    def onSceneStartClose(self, caller, event) -> None:
        if self._job is not None:
            self._job.cancel()
        self.setParameterNode(None)

    def onSceneEndClose(self, caller, event) -> None:
        if self.parent.isEntered:
            self.initializeParameterNode()

    # -- parameter node --------------------------------------------------------------------------------

    def initializeParameterNode(self) -> None:
        self.setParameterNode(self.logic.getParameterNode())
        if not self._parameterNode.inputVolume:
            first = slicer.mrmlScene.GetFirstNodeByClass("vtkMRMLScalarVolumeNode")
            if first and not first.IsA("vtkMRMLLabelMapVolumeNode"):
                self._parameterNode.inputVolume = first
        if not self._parameterNode.modelId and self.ui.modelComboBox.count:
            self._parameterNode.modelId = self.ui.modelComboBox.itemData(0)

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
        if p is None:
            return
        index = self.ui.modelComboBox.findData(p.modelId) if p.modelId else 0
        wasBlocked = self.ui.modelComboBox.blockSignals(True)
        self.ui.modelComboBox.setCurrentIndex(max(index, 0))
        self.ui.modelComboBox.blockSignals(wasBlocked)
        wasBlocked = self.ui.deviceComboBox.blockSignals(True)
        self.ui.deviceComboBox.setCurrentText(p.device)
        self.ui.deviceComboBox.blockSignals(wasBlocked)
        self.showModelInfo()
        running = self._job is not None
        self.ui.applyButton.enabled = bool(p.inputVolume) and self.ui.modelComboBox.count > 0 and not running
        self.ui.cancelButton.enabled = running
        self.ui.compareButton.enabled = bool(p.outputSegmentation and p.referenceSegmentation) and not running
        if p.metricsTable:
            self.ui.metricsTableView.setMRMLTableNode(p.metricsTable)

    # -- models ----------------------------------------------------------------------------------------

    def populateModels(self) -> None:
        self.ui.modelComboBox.clear()
        self._models = {}
        try:
            from segthor.model_packages import list_models

            models = list_models()
        except Exception as exc:  # segthor not importable yet: dependencies are installed on Apply
            logging.warning(f"SegTHOR: cannot list models yet: {exc}")
            models = []
        for m in models:
            label = m["id"] + (" (default)" if m.get("default") else "")
            if DISCLAIMER in str(m.get("disclaimer", "")):
                label += f" — {DISCLAIMER}"
            self.ui.modelComboBox.addItem(label, m["id"])
            self._models[m["id"]] = m
        if not models:
            self.ui.modelInfoLabel.text = "No model package found (see `segthor models`)."

    def showModelInfo(self) -> None:
        model = self._models.get(self.ui.modelComboBox.currentData) if self.ui.modelComboBox.count else None
        if not model:
            return
        parts = [f"{model.get('architecture', '?')}, {model.get('parameters') or '?'} parameters"]
        if model.get("disclaimer"):
            parts.append(str(model["disclaimer"]))
        if model.get("error"):
            parts.append(f"unusable: {model['error']}")
        self.ui.modelInfoLabel.text = ". ".join(parts)

    def onModelChanged(self, index: int) -> None:
        if self._parameterNode and index >= 0:
            self._parameterNode.modelId = self.ui.modelComboBox.itemData(index)

    def onDeviceChanged(self, index: int) -> None:
        if self._parameterNode and index >= 0:
            self._parameterNode.device = self.ui.deviceComboBox.currentText

    # -- segmentation ----------------------------------------------------------------------------------

    def setStatus(self, message: str, fraction: float | None = None) -> None:
        self.ui.statusLabel.text = message
        if fraction is not None:
            self.ui.progressBar.value = int(round(100 * fraction))

    def onApplyButton(self) -> None:
        p = self._parameterNode
        try:
            self.setStatus("Checking Python dependencies...", 0.0)
            slicer.app.processEvents()
            if not self.logic.ensureDependencies():
                self.setStatus("Missing Python dependencies; see the Python console.")
                return
            self._job = self.logic.startSegmentation(
                p.inputVolume,
                p.outputSegmentation,
                modelId=p.modelId or None,
                device=p.device,
                replaceExisting=p.replaceExisting,
                postprocess=self.postprocessSpec(),
            )
        except Exception as exc:
            self._job = None
            self.showError(exc)
            return
        self._timer.start()
        self.updateGUIFromParameterNode()

    def postprocessSpec(self) -> list[str]:
        p = self._parameterNode
        steps = [s for s, on in (("close", p.closeHoles), ("open", p.opening), ("lcc", p.largestComponent)) if on]
        return [",".join(steps)] if steps else []

    def onPoll(self) -> None:
        if self._job is None:
            self._timer.stop()
            return
        fraction, message = self._job.progress()
        self.setStatus(message, fraction)
        if not self._job.poll():
            return
        self._timer.stop()
        job, self._job = self._job, None
        try:
            result = job.finish()  # commits to the scene, here on the main thread
            self._parameterNode.outputSegmentation = result.segmentation_node
            result.segmentation_node.CreateClosedSurfaceRepresentation()
            seconds = sum(result.timings.values())
            from segthor.quality import status_text, summary_lines

            # Per-organ plausibility (full reasons are in each segment's SegTHOR.* tags and the tooltip).
            self.ui.statusLabel.toolTip = "\n".join(summary_lines(result.quality)) if result.quality else ""
            self.setStatus(f"Done in {seconds:.1f} s on {job.logic.device}: "
                           f"{', '.join(result.segment_ids)} ready for editing. "
                           f"{status_text(result.quality) if result.quality else ''}", 1.0)
        except Exception as exc:
            self.showError(exc)
        self.updateGUIFromParameterNode()

    def showError(self, exc: Exception) -> None:
        from segthor.errors import CancelledError, SegthorError

        if isinstance(exc, CancelledError):
            self.setStatus("Cancelled; nothing was changed.", 0.0)
        elif isinstance(exc, SegthorError):
            self.setStatus(f"Error: {exc}", 0.0)
            slicer.util.errorDisplay(str(exc))
        else:
            logging.exception("SegTHOR failed")
            self.setStatus(f"Unexpected error: {exc} (details in the Python console)", 0.0)

    def onCancelButton(self) -> None:
        if self._job is not None:
            self._job.cancel()
            self.setStatus("Cancelling...")

    def onCompareButton(self) -> None:
        p = self._parameterNode
        try:
            table, _metrics = self.logic.compare(
                p.outputSegmentation, p.referenceSegmentation, p.inputVolume, p.metricsTable
            )
            p.metricsTable = table
            self.ui.metricsTableView.setMRMLTableNode(table)
            self.setStatus(f"Metrics in table '{table.GetName()}'.")
        except Exception as exc:
            self.showError(exc)


#
# SegTHORSlicerLogic: a thin wrapper over segthor.logic.SegmentationLogic
#


class SegTHORSlicerLogic(ScriptedLoadableModuleLogic):
    def __init__(self) -> None:
        ScriptedLoadableModuleLogic.__init__(self)
        self._logics = {}

    def getParameterNode(self):
        return SegTHORSlicerParameterNode(super().getParameterNode())

    @staticmethod
    def ensureDependencies() -> bool:
        """Install what the logic needs on first use (never at import): torch through the PyTorch extension,
        the rest with pip. Returns False when the user declined or installation failed."""
        try:
            import torch  # noqa: F401
        except ImportError:
            try:
                import PyTorchUtils
            except ImportError:
                slicer.util.errorDisplay("Install the 'PyTorch' extension (Extensions Manager), then restart Slicer.")
                return False
            if PyTorchUtils.PyTorchUtilsLogic().installTorch(askConfirmation=True) is None:
                return False
        missing = []
        for requirement in PIP_REQUIREMENTS:
            module = {"pillow": "PIL"}.get(requirement.split("==")[0], requirement.split("==")[0])
            try:
                __import__(module)
            except ImportError:
                missing.append(requirement)
        if missing:
            if not slicer.util.confirmOkCancelDisplay(f"SegTHOR needs these Python packages: {', '.join(missing)}. "
                                                      "Install them now?"):
                return False
            slicerPackaging = getattr(slicer, "packaging", None)  # Slicer >= 5.10
            if slicerPackaging is not None and hasattr(slicerPackaging, "pip_ensure"):
                from packaging.requirements import Requirement

                slicerPackaging.pip_ensure([Requirement(r) for r in missing])
            else:
                slicer.util.pip_install(missing)
        return True

    def segmentationLogic(self, modelId=None, device="auto", postprocess=None, progress=None):
        """A cached `segthor.logic.SegmentationLogic` per (model, device, post-processing), so the model loads once."""
        from segthor.logic import SegmentationLogic

        key = (modelId, device, tuple(postprocess or ()))
        if key not in self._logics:
            self._logics[key] = SegmentationLogic(modelId, device, list(postprocess or []) or None)
        logic = self._logics[key]
        logic.progress_callback = progress
        return logic

    def startSegmentation(self, volumeNode, segmentationNode=None, modelId=None, device="auto",
                          replaceExisting=False, postprocess=None):
        """Start a background segmentation; poll the returned job and call `finish()` on the main thread."""
        from segthor.logic import SegmentationJob

        logic = self.segmentationLogic(modelId, device, postprocess)
        return SegmentationJob(logic, volumeNode, segmentationNode, replaceExisting).start()

    def process(self, volumeNode, segmentationNode=None, modelId=None, device="auto", replaceExisting=False,
                postprocess=None, progress=None):
        """Segment synchronously (scripts, tests); returns the segthor NodeResult."""
        logic = self.segmentationLogic(modelId, device, postprocess, progress)
        return logic.segment_node(volumeNode, segmentationNode, replaceExisting)

    def compare(self, segmentationNode, referenceNode, referenceVolumeNode=None, tableNode=None):
        from segthor.logic import SegmentationLogic

        return SegmentationLogic().compare(segmentationNode, referenceNode, referenceVolumeNode, tableNode)


#
# SegTHORSlicerTest
#


class SegTHORSlicerTest(ScriptedLoadableModuleTest):
    """Real inference on the bundled phantom; the same scenario runs under pytest on slicer-core
    (Testing/segmentation/test_scenario.py)."""

    def setUp(self):
        slicer.mrmlScene.Clear()

    def runTest(self):
        self.setUp()
        self.test_SegTHORSlicerPhantom()

    def test_SegTHORSlicerPhantom(self):
        self.delayDisplay("Segmenting the bundled phantom")
        if not SegTHORSlicerLogic.ensureDependencies():
            self.skipTest("Python dependencies are not installed")
        from segthor.mrml.scenario import run_phantom_scenario

        outcome = run_phantom_scenario(device="auto", min_mean_dice=0.5)
        self.assertEqual(outcome["table_node"].GetTable().GetNumberOfRows(), 4)
        self.delayDisplay(f"Mean Dice on the phantom: {outcome['mean_dice']:.3f} ({DISCLAIMER})")
