"""Everything that touches Slicer's MRML (the `slicer` module). The rest of the package never imports `slicer`."""
