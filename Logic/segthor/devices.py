"""Choosing the torch device: CUDA when present, CPU otherwise, or what the user forces."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from segthor.errors import InputError

if TYPE_CHECKING:
    import torch

DEVICE_CHOICES = ("auto", "cpu", "cuda")


def resolve_device(choice: str = "auto") -> torch.device:
    """Return the torch device for 'auto', 'cpu', 'cuda' or 'cuda:N'.

    'auto' takes CUDA when torch sees a GPU (under torchrun, the GPU of the process's LOCAL_RANK), else the
    CPU. Asking for CUDA on a machine without it is an error rather than a silent fallback, so a user who
    forced the GPU learns that it was not used.
    """
    import torch

    choice = (choice or "auto").strip().lower()
    if choice == "auto":
        if not torch.cuda.is_available():
            return torch.device("cpu")
        # Under torchrun each process takes the GPU of its local rank, so a multi-GPU node is shared out.
        local_rank = os.environ.get("LOCAL_RANK")
        if local_rank is not None:
            return torch.device(f"cuda:{int(local_rank) % torch.cuda.device_count()}")
        return torch.device("cuda")
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
