"""Model packages: a folder with `model.safetensors` (weights) and `model.json` (everything else).

`model.json` holds the architecture name and its arguments (what `build_network` needs), the label map
(checked against the organ table at load: another order or class count is refused), the preprocessing recipe
(opaque here; the inference pipeline interprets it), the recommended post-processing, training and validation
summaries, the inferer and its window (`inferer_spec.py`; absent: the default of the network kind),
version, the framework versions that wrote it, disclaimer, creation time, parameter count, storage
dtype and the sha256 of the weights file. The contract is documented in docs/extending.md. Pickled
checkpoints (.pt/.pth/.ckpt/.pkl) are refused: unpickling runs arbitrary code.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from segthor._version import __version__
from segthor.errors import ModelError
from segthor.io.atomic import atomic_path, write_text_atomic
from segthor.io.json_file import read_json_object
from segthor.model_packages.inferer_spec import parse_inferer
from segthor.networks.registry import ARCHITECTURES
from segthor.organs import ORGANS

if TYPE_CHECKING:
    import torch
    from torch import nn

WEIGHTS_FILE = "model.safetensors"
METADATA_FILE = "model.json"
FORMAT_VERSION = 1
DEMO_DISCLAIMER = "demo weights, synthetic training data, not for clinical use"
PICKLE_SUFFIXES = (".pt", ".pth", ".ckpt", ".pkl", ".pickle", ".bin")
REQUIRED_KEYS = ("id", "architecture", "arguments", "sha256")
STORAGE_DTYPES = ("float32", "float16")


@dataclass
class ModelPackage:
    """A loaded model: the network (eval mode, on its device), its metadata and the package folder."""

    model: nn.Module
    metadata: dict[str, Any] = field(default_factory=dict)
    path: Path = Path()

    @property
    def id(self) -> str:
        return str(self.metadata.get("id", self.path.name))

    @property
    def disclaimer(self) -> str:
        return str(self.metadata.get("disclaimer", ""))


def default_labels() -> dict[str, int]:
    """The SegTHOR label map from the organ table (background 0)."""
    return {"background": 0, **{o.key: o.label for o in ORGANS}}


def check_label_contract(meta: dict[str, Any], where: str) -> None:
    """Refuse a package whose classes are not the organ table's: ``labels`` (class name -> output channel)
    must equal ``default_labels()`` and ``arguments.num_classes`` (when the network has one) must be
    ``len(ORGANS) + 1``. A package without ``labels`` (written before they were recorded) is read as
    SegTHOR's order. Raises ``ModelError`` naming the first mismatch; ``where`` names the file."""
    expected = default_labels()
    table = ", ".join(f"{name} {value}" for name, value in expected.items())
    labels = meta.get("labels", expected)
    if not isinstance(labels, dict) or not all(isinstance(v, int) and not isinstance(v, bool) for v in labels.values()):
        raise ModelError(f"{where}: 'labels' must map class names to channel numbers, like {{{table}}}")
    classes = meta.get("arguments", {}).get("num_classes")
    if classes is not None and classes != len(expected):
        raise ModelError(
            f"{where}: the network has {classes} output classes but the organ table has {len(expected)} "
            f"({table}); this package segments other structures and cannot be used here"
        )
    if labels == expected:
        return
    missing = [name for name in expected if name not in labels]
    extra = [name for name in labels if name not in expected]
    moved = [
        f"{name} is {labels[name]} here but {expected[name]} in the organ table"
        for name in expected
        if name in labels and labels[name] != expected[name]
    ]
    problem = "; ".join(
        ([f"missing {', '.join(missing)}"] if missing else [])
        + ([f"unknown {', '.join(extra)}"] if extra else [])
        + moved
    )
    raise ModelError(
        f"{where}: labels do not match the organ table ({problem}); expected {table}. "
        "Re-export the package with SegTHOR's label order"
    )


def framework_versions() -> dict[str, str]:
    """Versions of what wrote a package (python, segthor, torch, numpy, safetensors), for model.json."""
    import platform
    from importlib.metadata import PackageNotFoundError, version

    versions = {"python": platform.python_version(), "segthor": __version__}
    for name in ("torch", "numpy", "safetensors"):
        with contextlib.suppress(PackageNotFoundError):  # a framework not installed is simply not listed
            versions[name] = version(name)
    return versions


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def save_model_package(
    directory: str | os.PathLike[str],
    model: nn.Module,
    metadata: dict[str, Any],
    dtype: str = "float32",
) -> Path:
    """Write `directory/model.safetensors` and `directory/model.json`; return the folder.

    `metadata` needs at least `id`; `architecture` and `arguments` default to the model's own attributes.
    An `inferer` entry is checked and written in full (`inferer_spec.parse_inferer`).
    Filled in here: labels (if absent), version (if absent), frameworks (python, segthor, torch, numpy,
    safetensors versions), created, parameters, dtype, sha256, format. Labels or a class count other than
    the organ table's raise ``ValueError``.
    Each file is written atomically; the weights go first, so an interrupted save leaves a package whose
    sha256 check fails loudly rather than a silently mismatched one.
    """
    import torch
    from safetensors.torch import save as safetensors_save

    if dtype not in STORAGE_DTYPES:
        raise ValueError(f"dtype must be one of {STORAGE_DTYPES}, got {dtype!r}")
    if not metadata.get("id"):
        raise ValueError("metadata needs an 'id' (the name users pick the model by)")
    directory = Path(directory)
    meta = dict(metadata)
    meta.setdefault("architecture", getattr(model, "architecture", None))
    meta.setdefault("arguments", dict(getattr(model, "arguments", {})))
    if not meta["architecture"]:
        raise ValueError("metadata needs 'architecture' (the model has no `architecture` attribute)")
    _check_matches_model(meta, model)

    target = torch.float16 if dtype == "float16" else torch.float32
    tensors: dict[str, torch.Tensor] = {}
    for name, tensor in model.state_dict().items():
        t = tensor.detach().to("cpu")
        if t.is_floating_point():
            t = t.to(target)
        tensors[name] = t.contiguous()  # also turns channels_last weights into the standard layout
    blob = safetensors_save(tensors, metadata={"format": "pt", "segthor_id": str(meta["id"])})

    meta.setdefault("labels", default_labels())
    try:
        check_label_contract(meta, "metadata")
        if "inferer" in meta:  # checked like at load; absent means the default of the network kind
            spatial_dims = int(getattr(model, "spatial_dims", 2))
            meta["inferer"] = parse_inferer(meta["inferer"], spatial_dims, "metadata").to_dict()
    except ModelError as exc:
        raise ValueError(str(exc)) from None
    meta.setdefault("version", __version__)
    meta["frameworks"] = framework_versions()
    meta["created"] = meta.get("created") or datetime.now(timezone.utc).isoformat(timespec="seconds")
    meta["parameters"] = int(sum(p.numel() for p in model.parameters()))
    meta["dtype"] = dtype
    meta["weights_file"] = WEIGHTS_FILE
    meta["sha256"] = _sha256(blob)
    meta["format_version"] = FORMAT_VERSION
    text = json.dumps(meta, indent=2) + "\n"  # before writing anything: unserialisable metadata fails here

    directory.mkdir(parents=True, exist_ok=True)
    with atomic_path(directory / WEIGHTS_FILE) as tmp:
        tmp.write_bytes(blob)
    write_text_atomic(directory / METADATA_FILE, text)
    return directory


def _check_matches_model(meta: dict[str, Any], model: nn.Module) -> None:
    """Refuse metadata that would rebuild a different network than the one whose weights are saved."""
    own_architecture = getattr(model, "architecture", None)
    if own_architecture and meta["architecture"] != own_architecture:
        raise ValueError(f"metadata architecture {meta['architecture']!r} but the model is {own_architecture!r}")
    own_arguments = getattr(model, "arguments", None)
    # Compare through JSON, which is how the arguments come back (tuples become lists).
    if own_arguments is not None and json.loads(json.dumps(meta["arguments"])) != json.loads(json.dumps(own_arguments)):
        raise ValueError(f"metadata arguments {meta['arguments']} differ from the model's {own_arguments}")


def _refuse_pickle(path: Path) -> None:
    raise ModelError(
        f"{path} looks like a pickled PyTorch checkpoint; pickles can run arbitrary code, so they are "
        "refused. Convert it to a model package (safetensors + JSON): load it yourself in a trusted "
        "environment and call segthor.model_packages.save_model_package(folder, model, metadata)"
    )


def resolve_package_dir(path_or_id: str | os.PathLike[str]) -> Path:
    """A package folder from a folder, its model.json / model.safetensors, or a catalogue id."""
    from segthor.model_packages.catalogue import find_model

    path = Path(path_or_id).expanduser()
    if path.suffix.lower() in PICKLE_SUFFIXES:
        _refuse_pickle(path)
    if path.is_dir():
        return path
    if path.is_file():
        if path.name in (METADATA_FILE, WEIGHTS_FILE):
            return path.parent
        raise ModelError(
            f"{path} is not a model package; give the package folder (with {METADATA_FILE} and "
            f"{WEIGHTS_FILE}) or a model id from `segthor models`"
        )
    if os.sep in str(path_or_id) or (os.altsep and os.altsep in str(path_or_id)):
        raise ModelError(f"model package {path} does not exist; check the path or pick an id from `segthor models`")
    return find_model(str(path_or_id))


def read_metadata(directory: Path) -> dict[str, Any]:
    """Parse and sanity-check `model.json`, with errors that name the file."""
    meta_path = directory / METADATA_FILE
    if not meta_path.is_file():
        exported = directory / "model" / METADATA_FILE  # a `segthor train` run folder: its package is in model/
        hint = (
            f"; {directory} looks like a training run: give its package folder {exported.parent}"
            if exported.is_file()
            else ""
        )
        raise ModelError(
            f"{meta_path} is missing; a model package folder needs {METADATA_FILE} and {WEIGHTS_FILE}{hint}"
        )
    meta = read_json_object(meta_path, ModelError, hint="reinstall or re-export the model")
    missing = [k for k in REQUIRED_KEYS if k not in meta]
    if missing:
        raise ModelError(f"{meta_path} lacks required key(s) {', '.join(missing)}; re-export the model package")
    if not isinstance(meta["arguments"], dict):
        raise ModelError(f"{meta_path}: 'arguments' must be an object of network arguments")
    check_label_contract(meta, str(meta_path))
    architecture = ARCHITECTURES.get(str(meta["architecture"]))
    if architecture is not None:  # an unknown architecture is reported when the network is built
        parse_inferer(meta.get("inferer"), architecture.spatial_dims, str(meta_path))
    return meta


def _read_weights(directory: Path, meta: dict[str, Any]) -> dict[str, torch.Tensor]:
    from safetensors import SafetensorError
    from safetensors.torch import load as safetensors_load

    name = str(meta.get("weights_file", WEIGHTS_FILE))
    if Path(name).name != name or name in ("", ".", ".."):
        raise ModelError(f"{directory / METADATA_FILE}: weights_file must be a file name in the package folder")
    weights_path = directory / name
    if weights_path.suffix.lower() in PICKLE_SUFFIXES:
        _refuse_pickle(weights_path)
    if not weights_path.is_file():
        raise ModelError(f"{weights_path} is missing; reinstall the model package or re-export it")
    blob = weights_path.read_bytes()
    # Read once, hash and parse the same bytes: nothing can change between the check and the use.
    if blob[:2] == b"PK" or blob[:1] == b"\x80":
        _refuse_pickle(weights_path)
    if _sha256(blob) != str(meta["sha256"]).lower():
        raise ModelError(
            f"{weights_path} does not match the sha256 recorded in {directory / METADATA_FILE}: the file is "
            "corrupt, truncated or was modified; reinstall the model package or re-export it"
        )
    try:
        return safetensors_load(blob)
    except (SafetensorError, ValueError, RuntimeError) as exc:
        raise ModelError(f"{weights_path} is not a readable safetensors file ({exc}); re-export the model") from exc


def load_model_package(path_or_id: str | os.PathLike[str], device: str = "cpu") -> ModelPackage:
    """Load a package folder (or catalogue id): checks sha256, builds the network, loads weights (strict).

    float16-stored weights load into the float32 network. The model comes back in eval mode on `device`
    ('cpu', 'cuda', 'cuda:N' or 'auto').
    """
    from segthor.devices import resolve_device
    from segthor.networks import build_network

    directory = resolve_package_dir(path_or_id)
    meta = read_metadata(directory)
    state = _read_weights(directory, meta)
    try:
        model = build_network(str(meta["architecture"]), **meta["arguments"])
    except ModelError as exc:
        raise ModelError(f"{directory / METADATA_FILE}: {exc}") from exc
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()
        raise ModelError(
            f"{directory / WEIGHTS_FILE} does not fit the {meta['architecture']!r} network described in "
            f"{METADATA_FILE} ({' '.join(first[:3])[:400]}); the two files are from different models"
        ) from exc
    model.to(resolve_device(device)).eval()
    return ModelPackage(model=model, metadata=meta, path=directory)
