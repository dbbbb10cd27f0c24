"""Embedding models behind one factory, `create_model(name)`.

`create_model` takes a registered name or the path of a `.safetensors` file written by
`training/train.py` (its `.json` model card beside it). Add an architecture by subclassing
`EmbeddingModel` and registering it in `_REGISTRY`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from visionguard.errors import VisionGuardError
from visionguard.models.base import EmbeddingModel
from visionguard.models.runtime import DEFAULT_RUNTIME, RUNTIMES

#: The trained default: logo branch fine-tuned end to end on a GPU (`training.finetune`), 160 px;
#: figures in training/README.md. v1 (frozen trunk, CPU recipe) stays for indexes built with it.
TRAINED_MODEL = "visionguard-lite0-v2"
BASELINE_MODEL = "efficientnet-lite0-imagenet"
DEFAULT_MODEL = TRAINED_MODEL


def _efficientnet_lite0() -> EmbeddingModel:
    from visionguard.models.efficientnet import EfficientNetLite0

    return EfficientNetLite0()


def _shipped(name: str) -> Callable[[], EmbeddingModel]:
    def factory() -> EmbeddingModel:
        from visionguard.models.lite0_metric import TrainedLite0, packaged_weights

        return TrainedLite0(packaged_weights(name))

    return factory


_REGISTRY: dict[str, Callable[[], EmbeddingModel]] = {
    "visionguard-lite0-v2": _shipped("visionguard-lite0-v2"),
    "visionguard-lite0-v1": _shipped("visionguard-lite0-v1"),
    "efficientnet-lite0-imagenet": _efficientnet_lite0,
}


def list_models() -> list[str]:
    return sorted(_REGISTRY)


def create_model(name: str = DEFAULT_MODEL, runtime: str = DEFAULT_RUNTIME) -> EmbeddingModel:
    """Build a model by name or weights path, running on `runtime` ("openvino", "onnx" or "torch");
    weights come from installed files, never the network."""
    if name in _REGISTRY:
        return _REGISTRY[name]().use_runtime(runtime)
    if name.endswith(".safetensors"):
        from visionguard.models.lite0_metric import TrainedLite0

        if not Path(name).is_file():
            raise VisionGuardError(f"model weights '{name}' do not exist")
        from safetensors import SafetensorError

        try:
            model = TrainedLite0(name)
        except (SafetensorError, ValueError, KeyError, TypeError, OSError, RuntimeError) as error:
            detail = f"missing {error}" if isinstance(error, KeyError) else str(error).strip().splitlines()[-1]
            raise VisionGuardError(
                f"cannot read the model '{name}' or its card '{Path(name).with_suffix('.json').name}' ({detail}): "
                "a model is the .safetensors and .json pair that training.finetune or training.train writes"
            ) from None
        return model.use_runtime(runtime)
    raise VisionGuardError(
        f"unknown model '{name}'; available: {', '.join(list_models())}, or the path of a trained .safetensors file"
    )


__all__ = [
    "BASELINE_MODEL",
    "DEFAULT_MODEL",
    "DEFAULT_RUNTIME",
    "RUNTIMES",
    "TRAINED_MODEL",
    "EmbeddingModel",
    "create_model",
    "list_models",
]
