"""Segmentation in a child process, for front doors whose main thread cannot share the GIL (3D Slicer).

Slicer's main thread holds Python's GIL while it waits in the Qt event loop, so a Python worker thread only
runs while the main thread happens to run Python. A child process has its own interpreter and runs at full
speed whatever the parent does. The pieces, none of which imports Qt:

- `protocol`: the one-line-per-event messages the child writes on stdout (progress, error, done).
- `process`: `ChildProcess`, a started command that is polled without blocking and cancelled by ending it.
- `segment_child`: the child's entry point (`python -m segthor.runner.segment_child ...`): reads a CT
  file, segments it, writes the labels into a result folder.
- `job`: `SegmentationProcessJob`, the MRML side: writes the volume node to a temporary folder, runs the
  child, and commits the labels it hands back into a segmentation node in one all-or-nothing step.
"""
