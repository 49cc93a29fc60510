"""Pictures of volumes and labels (Pillow only): `write_overlay_png` for previews and reports."""

from segthor.render.overlay import write_overlay_png

__all__ = ["write_overlay_png"]
