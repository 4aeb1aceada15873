"""Batch normalisation (Ioffe & Szegedy 2015), as ``torch.nn.functional.batch_norm`` and ``torch.nn.BatchNorm2d``.

In training, each channel ``c`` is normalised with the mean and the *biased* variance of the current
batch, taken over every axis but the channel axis (for images: over N, H and W), then scaled by
``weight[c]`` and shifted by ``bias[c]``. The same call updates the running estimates in place::

    running_mean <- (1 - momentum) * running_mean + momentum * batch mean
    running_var  <- (1 - momentum) * running_var  + momentum * batch variance * n / (n - 1)

where ``n`` is the number of values averaged per channel: the running variance is the *unbiased*
estimate, although the normalisation used the biased one. In evaluation the running estimates
replace the batch statistics, so the layer is a fixed affine map per channel, which chapter 08 folds
into the convolution before it. :class:`BatchNorm2d` subclasses ``torch.nn.BatchNorm2d`` and
overrides only ``forward``, as the layers of :mod:`convlib.nn` do, so its parameters, buffers,
``state_dict`` and repr are torch's. :func:`reestimate_running_stats` recomputes the running
estimates of a trained network for its final weights.
"""

from __future__ import annotations

import torch
from torch import nn

from convlib import _validate as check

__all__ = ["BatchNorm2d", "batch_norm", "reestimate_running_stats"]


def batch_norm(
    input: torch.Tensor,
    running_mean: torch.Tensor | None,
    running_var: torch.Tensor | None,
    weight: torch.Tensor | None = None,
    bias: torch.Tensor | None = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> torch.Tensor:
    """Normalise each channel with batch statistics (training) or running estimates (evaluation).

    The arguments are ``torch.nn.functional.batch_norm``'s, in its order, with its results.

    Args:
        input: a batch whose axis 1 holds the channels, e.g. images ``(N, C, H, W)``.
        running_mean: per-channel running mean, updated in place when ``training``; may be ``None``
            in training (no running estimates kept), never in evaluation.
        running_var: per-channel running (unbiased) variance, updated like ``running_mean``.
        weight: per-channel scale gamma; ``None`` means 1.
        bias: per-channel shift beta; ``None`` means 0.
        training: use the batch's statistics (and update the running ones) instead of the running ones.
        momentum: weight of the new batch in the running update (torch's convention: 0.1 keeps 90% of the old).
        eps: added to the variance before its square root.

    Returns:
        ``weight * (input - mean) / sqrt(var + eps) + bias`` per channel, the input's shape.

    Raises:
        ValueError: in training with a single value per channel (no variance), or in evaluation
            without running estimates, or for a statistic of the wrong length.

    Shapes:
        input ``(N, C, *)``; running_mean, running_var, weight, bias ``(C,)``; output ``(N, C, *)``.

    >>> x = torch.tensor([[1.0, 10.0], [3.0, 30.0]])  # (N=2, C=2): channel 0 holds 1 and 3
    >>> mean, var = torch.zeros(2), torch.ones(2)
    >>> batch_norm(x, mean, var, training=True, eps=0.0)  # (1 - 2) / 1 and (3 - 2) / 1
    tensor([[-1., -1.],
            [ 1.,  1.]])
    >>> mean, var  # 0.9 * 0 + 0.1 * (2, 20); 0.9 * 1 + 0.1 * (1, 100) * 2 / (2 - 1), unbiased
    (tensor([0.2000, 2.0000]), tensor([ 1.1000, 20.9000]))
    """
    op = "batch_norm"
    x = check.tensor(input, "input", op)
    if x.ndim < 2:
        raise ValueError(f"{op}: input must have a channel axis, shape (N, C, *), got shape {tuple(x.shape)}")
    channels = x.shape[1]
    for name, stat in (
        ("running_mean", running_mean),
        ("running_var", running_var),
        ("weight", weight),
        ("bias", bias),
    ):
        if stat is not None and stat.shape != (channels,):
            raise ValueError(
                f"{op}: {name} must have shape ({channels},), one entry per channel, got {tuple(stat.shape)}"
            )
    axes = [0, *range(2, x.ndim)]  # every axis but the channels
    n = x.numel() // channels  # values averaged per channel
    shape = (1, channels) + (1,) * (x.ndim - 2)  # (1, C, 1, 1) for images: broadcasts over N, H, W
    if training:
        if n < 2:
            raise ValueError(f"{op}: training needs more than 1 value per channel, got input shape {tuple(x.shape)}")
        var, mean = torch.var_mean(x, dim=axes, correction=0)  # (C,) each; biased: divides by n, as used below
        if running_mean is not None and running_var is not None:
            with torch.no_grad():  # the running estimates are buffers, not part of the graph
                running_mean.mul_(1 - momentum).add_(momentum * mean)
                running_var.mul_(1 - momentum).add_(momentum * var * n / (n - 1))  # unbiased estimate
    else:
        if running_mean is None or running_var is None:
            raise ValueError(f"{op}: evaluation (training=False) needs running_mean and running_var, got None")
        mean, var = running_mean, running_var
    # weight * (x - mean) / sqrt(var + eps) + bias, as one scale and one shift per channel: two passes over x
    scale = torch.rsqrt(var + eps)  # (C,)
    if weight is not None:
        scale = scale * weight
    shift = -mean * scale if bias is None else bias - mean * scale  # (C,)
    return torch.addcmul(shift.view(shape), x, scale.view(shape))  # shift + x * scale, (N, C, *)


class BatchNorm2d(nn.BatchNorm2d):
    """``torch.nn.BatchNorm2d`` computed by :func:`batch_norm`.

    As in torch, ``momentum=None`` makes the running estimates plain averages over every batch seen
    so far (the weight of batch ``t`` is ``1 / t``, counted by ``num_batches_tracked``), and
    ``track_running_stats=False`` keeps no running estimates, so that evaluation uses batch statistics too.

    Args:
        *args: ``torch.nn.BatchNorm2d``'s arguments, unchanged: ``num_features, eps=1e-5,
            momentum=0.1, affine=True, track_running_stats=True``.
        **kwargs: the same, by name.

    Shapes:
        ``(N, C, H, W) -> (N, C, H, W)``; weight, bias, running_mean, running_var ``(C,)``.

    >>> bn = BatchNorm2d(3)
    >>> x = torch.arange(24.0).view(2, 3, 2, 2)  # channel 0 holds 0..3 and 12..15: mean 7.5
    >>> bn(x).shape, bn.running_mean  # 0.9 * 0 + 0.1 * (7.5, 11.5, 15.5)
    (torch.Size([2, 3, 2, 2]), tensor([0.7500, 1.1500, 1.5500]))
    """

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        """Normalise ``input``: batch statistics in training mode, running estimates in eval mode."""
        if input.ndim != 4:
            raise ValueError(
                f"BatchNorm2d: input must be 4-D (N, C, H, W), got {input.ndim}-D shape {tuple(input.shape)}"
            )
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats and self.num_batches_tracked is not None:
            self.num_batches_tracked.add_(1)
            if self.momentum is None:  # a cumulative average: batch t gets weight 1/t
                factor = 1.0 / float(self.num_batches_tracked)
        use_batch = self.training or self.running_mean is None  # no running estimates: batch statistics
        keep = not self.training or self.track_running_stats  # update (or use) the buffers
        return batch_norm(
            input,
            self.running_mean if keep else None,
            self.running_var if keep else None,
            self.weight,
            self.bias,
            use_batch,
            factor,
            self.eps,
        )


@torch.no_grad()
def reestimate_running_stats(model: nn.Module, inputs: torch.Tensor, batch_size: int = 200) -> nn.Module:
    """Recompute every BatchNorm's running statistics for the model's current weights, in place.

    During training the running estimates average mostly the statistics of the last 10-20 batches
    (with momentum 0.1, 90% of the weight is on the last 22, and the mean age of a batch is 9),
    computed while the weights were still changing. This resets them, sets ``momentum=None`` so
    that each layer averages every batch with the same weight, runs ``inputs`` through the model in
    training mode without gradients, and restores each layer's momentum. Each running mean is then
    the average of the batch means, and each running variance the average of the batches'
    unbiased variances.

    Args:
        model: a network with ``torch.nn`` BatchNorm layers (convlib's included).
        inputs: training inputs, (N, ...); they move batch by batch to the model's device.
        batch_size: inputs per forward pass.

    Returns:
        the same model, in evaluation mode.

    Shapes:
        inputs (N, ...), as the model takes them.

    >>> bn = nn.Sequential(BatchNorm2d(2))
    >>> x = torch.arange(16.0).view(2, 2, 2, 2)  # channel 0 holds 0..3 and 8..11: mean 5.5
    >>> reestimate_running_stats(bn, x)[0].running_mean, bn.training
    (tensor([5.5000, 9.5000]), False)
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"reestimate_running_stats: batch_size must be a positive int, got {batch_size!r}")
    layers = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    momenta = [m.momentum for m in layers]
    for m in layers:
        m.reset_running_stats()
        m.momentum = None
    device = next(model.parameters()).device
    model.train()
    for i in range(0, len(inputs), batch_size):
        model(inputs[i : i + batch_size].to(device))
    for m, momentum in zip(layers, momenta, strict=True):
        m.momentum = momentum
    return model.eval()
