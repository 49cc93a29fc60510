"""Model packages (safetensors weights + JSON metadata) and the catalogue of installed models.

`import segthor.model_packages` stays torch-free; torch and safetensors load when a package is saved or loaded.
"""

from segthor.model_packages.catalogue import (
    DEFAULT_MODEL_ID,
    ENV_VAR,
    MODELS_DIR,
    find_model,
    list_models,
    model_search_path,
)
from segthor.model_packages.package import (
    DEMO_DISCLAIMER,
    METADATA_FILE,
    WEIGHTS_FILE,
    ModelPackage,
    default_labels,
    load_model_package,
    read_metadata,
    save_model_package,
)

__all__ = [
    "DEFAULT_MODEL_ID",
    "DEMO_DISCLAIMER",
    "ENV_VAR",
    "METADATA_FILE",
    "MODELS_DIR",
    "WEIGHTS_FILE",
    "ModelPackage",
    "default_labels",
    "find_model",
    "list_models",
    "load_model_package",
    "model_search_path",
    "read_metadata",
    "save_model_package",
]
