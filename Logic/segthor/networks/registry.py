"""Architecture registry: names stored in model packages -> network constructors (imported lazily)."""

from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from segthor.errors import ModelError

if TYPE_CHECKING:
    from torch import nn


@dataclass(frozen=True)
class Architecture:
    name: str
    spatial_dims: int
    description: str
    target: str  # "module:callable", imported only when a network is built (keeps this module torch-free)

    def constructor(self):
        module, _, attribute = self.target.partition(":")
        return getattr(importlib.import_module(module), attribute)


ARCHITECTURES: dict[str, Architecture] = {
    a.name: a
    for a in (
        Architecture(
            "unet",
            2,
            "plain U-Net baseline of the SegTHOR paper (64-1024 maps, learnt upsampling)",
            "segthor.networks.unet2d:build_unet",
        ),
        Architecture(
            "sunet",
            2,
            "simplified U-Net of the SegTHOR paper (up to 256 maps, dropout 0.2)",
            "segthor.networks.unet2d:build_sunet",
        ),
        Architecture(
            "sunet_se_ca",
            2,
            "sU-Net with squeeze-excitation and context aggregation blocks",
            "segthor.networks.unet2d:build_sunet_se_ca",
        ),
        Architecture(
            "enet",
            2,
            "ENet (Paszke et al.): PReLU bottlenecks, dilated and asymmetric convs",
            "segthor.networks.enet:ENet",
        ),
        Architecture(
            "c2f3d",
            3,
            "coarse-to-fine 3D network: shared encoder, coarse decoder, per-organ fine decoders",
            "segthor.networks.coarse_to_fine3d:CoarseToFine3d",
        ),
    )
}


def build_network(architecture: str, **arguments: Any) -> nn.Module:
    """Build a freshly (Xavier-) initialised network by registry name, e.g. build_network("enet", base_width=32).

    Every network has `architecture`, `spatial_dims` and `arguments` (what rebuilds it) attributes.
    Unknown names or arguments raise ModelError (they usually come from a model package's JSON).
    """
    info = ARCHITECTURES.get(architecture)
    if info is None:
        known = ", ".join(ARCHITECTURES)
        raise ModelError(f"unknown network architecture {architecture!r}; known architectures: {known}")
    constructor = info.constructor()
    accepted = inspect.signature(constructor).parameters
    unknown = sorted(set(arguments) - set(accepted))
    if unknown:
        raise ModelError(
            f"architecture {architecture!r} does not take argument(s) {', '.join(unknown)}; "
            f"it takes: {', '.join(accepted)}"
        )
    try:
        return constructor(**arguments)
    except (ValueError, TypeError) as exc:
        raise ModelError(f"cannot build {architecture!r} with {arguments}: {exc}") from exc
