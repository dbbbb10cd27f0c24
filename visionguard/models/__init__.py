"""Embedding models behind one factory, `create_model(name)`.

Add a model by subclassing `EmbeddingModel` and registering it in `_REGISTRY`.
"""

from __future__ import annotations

from typing import Callable

from visionguard.errors import VisionGuardError
from visionguard.models.base import EmbeddingModel

DEFAULT_MODEL = "efficientnet-lite0-imagenet"


def _efficientnet_lite0() -> EmbeddingModel:
    from visionguard.models.efficientnet import EfficientNetLite0

    return EfficientNetLite0()


_REGISTRY: dict[str, Callable[[], EmbeddingModel]] = {
    "efficientnet-lite0-imagenet": _efficientnet_lite0,
}


def list_models() -> list[str]:
    return sorted(_REGISTRY)


def create_model(name: str = DEFAULT_MODEL) -> EmbeddingModel:
    """Build a model by name; the weights come from installed packages, never the network."""
    try:
        factory = _REGISTRY[name]
    except KeyError:
        raise VisionGuardError(f"unknown model '{name}'; available: {', '.join(list_models())}") from None
    return factory()


__all__ = ["DEFAULT_MODEL", "EmbeddingModel", "create_model", "list_models"]
