"""A headless Slicer environment on PyPI's `slicer-core`, so `slicer.util` and module logics work without the app.

Inside the real Slicer application none of this is needed (or used): `slicer.mrmlScene` and
`slicer.modules` already exist. Outside it, `HeadlessSlicer()` builds the pieces `slicer.util` expects:
a scene, an application logic, the colour, volumes, segmentations, terminologies, subject-hierarchy and tables logics,
and a `slicer.modules` namespace whose `<name>.logic()` returns them. The same pattern is in trame-slicer's
`core/slicer_app.py`.
"""

from __future__ import annotations

import types
from dataclasses import dataclass, field
from typing import Any


@dataclass
class HeadlessSlicer:
    """Scene + logics; `slicer.mrmlScene` and `slicer.modules` point at them while this object is current."""

    scene: Any = field(init=False)
    app_logic: Any = field(init=False)
    logics: dict[str, Any] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        import slicer

        self.scene = slicer.vtkMRMLScene()
        self.app_logic = slicer.vtkSlicerApplicationLogic()
        self.app_logic.SetMRMLScene(self.scene)

        colors = slicer.vtkSlicerColorLogic()
        self._register("colors", colors)
        colors.AddDefaultColorNodes()

        terminologies = slicer.vtkSlicerTerminologiesModuleLogic()
        self._register("terminologies", terminologies)
        self._register("volumes", slicer.vtkSlicerVolumesLogic())
        self._register("segmentations", slicer.vtkSlicerSegmentationsModuleLogic())
        self._register("subjecthierarchy", slicer.vtkSlicerSubjectHierarchyModuleLogic())
        self._register("tables", slicer.vtkSlicerTablesLogic())
        self.activate()

    def _register(self, name: str, logic: Any) -> None:
        logic.SetMRMLScene(self.scene)
        logic.SetMRMLApplicationLogic(self.app_logic)
        self.app_logic.SetModuleLogic(name, logic)
        self.logics[name] = logic

    def activate(self) -> None:
        """Make this scene the one `slicer.util` works on."""
        import slicer

        slicer.mrmlScene = self.scene
        slicer.app_logic = self.app_logic
        modules = types.SimpleNamespace()
        for name, logic in self.logics.items():
            setattr(modules, name, types.SimpleNamespace(logic=lambda logic=logic: logic))
        slicer.modules = modules

    def clear(self) -> None:
        self.scene.Clear(0)
