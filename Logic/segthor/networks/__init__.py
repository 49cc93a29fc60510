"""The segmentation networks of the seed papers, shared by inference and training.

    build_network(architecture, **arguments)   a fresh, Xavier-initialised network by registry name
    ARCHITECTURES                              name -> Architecture(name, spatial_dims, description, target)
    optimize_for_inference(model)              eval + BN folding + channels_last where it pays (in place)
    init_weights, count_parameters, fuse_batch_norms   helpers (segthor.networks.blocks)

`import segthor.networks` stays torch-free; torch is imported when a network or a helper is used.
"""

from typing import Any

from segthor.networks.registry import ARCHITECTURES, Architecture, build_network

_BLOCK_HELPERS = ("init_weights", "count_parameters", "fuse_batch_norms", "optimize_for_inference")

__all__ = ["ARCHITECTURES", "Architecture", "build_network", *_BLOCK_HELPERS]


def __getattr__(name: str) -> Any:
    if name in _BLOCK_HELPERS:
        from segthor.networks import blocks

        return getattr(blocks, name)
    raise AttributeError(f"module 'segthor.networks' has no attribute {name!r}")
