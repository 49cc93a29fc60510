"""Choosing the torch device: CUDA when present, CPU otherwise, or what the user forces."""

from __future__ import annotations

from typing import TYPE_CHECKING

from segthor.errors import InputError

if TYPE_CHECKING:
    import torch

DEVICE_CHOICES = ("auto", "cpu", "cuda")


def resolve_device(choice: str = "auto") -> torch.device:
    """Return the torch device for 'auto', 'cpu', 'cuda' or 'cuda:N'.

    'auto' takes CUDA when torch sees a GPU, else the CPU. Asking for CUDA on a machine without it is an
    error rather than a silent fallback, so a user who forced the GPU learns that it was not used.
    """
    import torch

    choice = (choice or "auto").strip().lower()
    if choice == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if choice == "cpu":
        return torch.device("cpu")
    if choice.startswith("cuda"):
        if not torch.cuda.is_available():
            raise InputError(
                "device 'cuda' was requested but torch sees no CUDA GPU here; "
                "use --device cpu (or auto), or install a CUDA build of torch (see README)"
            )
        return torch.device(choice)
    raise InputError(f"unknown device {choice!r}; choose one of: auto, cpu, cuda")
