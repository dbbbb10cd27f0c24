"""Metric-learning losses, one per concept.

ProxyAnchor (Kim et al., CVPR 2020) for the logo head: one learnable proxy per training brand;
each proxy pulls its brand's embeddings and pushes every other embedding, weighting hard
examples more (the log-sum-exp). Background crops (label -1) only push: they teach the model
that a photo without a logo is near no brand.

SupCon (Khosla et al., NeurIPS 2020) for the product head: copies of one photo are
positives, everything else in the batch (other crops of the same scene, the same logo on
another photo) is a negative.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class ProxyAnchorLoss(nn.Module):
    def __init__(self, n_classes: int, dim: int, margin: float = 0.1, alpha: float = 32.0) -> None:
        super().__init__()
        self.proxies = nn.Parameter(torch.empty(n_classes, dim))
        nn.init.kaiming_normal_(self.proxies, mode="fan_out")
        self.margin, self.alpha = margin, alpha

    def forward(self, embeddings: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        cosine = embeddings @ F.normalize(self.proxies, dim=1).T  # (batch, classes)
        positive = torch.zeros_like(cosine, dtype=torch.bool)
        has_label = labels >= 0
        positive[has_label.nonzero().squeeze(1), labels[has_label]] = True
        pos_exp = torch.exp(-self.alpha * (cosine - self.margin)).masked_fill(~positive, 0)
        neg_exp = torch.exp(self.alpha * (cosine + self.margin)).masked_fill(positive, 0)
        with_positives = positive.any(dim=0)
        pos_term = torch.log1p(pos_exp.sum(dim=0))[with_positives].sum() / with_positives.sum().clamp(min=1)
        neg_term = torch.log1p(neg_exp.sum(dim=0)).sum() / cosine.shape[1]
        return pos_term + neg_term


def supcon_loss(embeddings: torch.Tensor, labels: torch.Tensor, temperature: float = 0.05) -> torch.Tensor:
    """Supervised contrastive loss over a batch of unit vectors."""
    logits = embeddings @ embeddings.T / temperature
    self_mask = torch.eye(len(labels), dtype=torch.bool, device=labels.device)
    logits = logits.masked_fill(self_mask, float("-inf"))
    positive = (labels[:, None] == labels[None, :]) & ~self_mask
    log_prob = logits - torch.logsumexp(logits, dim=1, keepdim=True)
    counts = positive.sum(dim=1)
    valid = counts > 0
    mean_log_prob = log_prob.masked_fill(~positive, 0).sum(dim=1)[valid] / counts[valid]
    return -mean_log_prob.mean()
