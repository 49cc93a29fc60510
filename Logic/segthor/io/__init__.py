"""Reading and writing images (NIfTI, NRRD, MHA, DICOM series) with their geometry."""

from segthor.io.volume import Volume, read_volume, write_volume

__all__ = ["Volume", "read_volume", "write_volume"]
