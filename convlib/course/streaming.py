"""Causal 1-D convolution and its streaming form, as in WaveNet and temporal convolutional networks.

A *causal* convolution pads only on the left, by ``d(k-1)`` zeros, so that output ``t`` reads the
inputs ``t - d(k-1), ..., t`` and nothing later: ``y[t] = sum_j w[j] x[t - d(k-1) + d j]`` (cross-
correlation, as everywhere in the course). The output is as long as the input.

Because output ``t`` needs only the last ``d(k-1) + 1`` inputs, a stack of causal layers can run on
a stream: :class:`Streamer` feeds a sequence chunk by chunk and keeps, for each layer, the last
``d(k-1)`` inputs it has seen. Concatenated, the chunk outputs equal the output on the whole sequence
(van den Oord et al., "WaveNet", 2016, generate audio this way, one sample at a time).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from convlib import functional
from convlib.nn import Conv1d
from convlib.receptive_field import POSITIONWISE


def causal_conv1d(
    input: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    dilation: int = 1,
    *,
    method: str = "auto",
) -> torch.Tensor:
    """Causal 1-D convolution: ``d(k-1)`` zeros on the left, none on the right, stride 1.

    Args:
        input: ``(N, C_in, L)``.
        weight: ``(C_out, C_in, k)``; tap ``k - 1`` multiplies the current input ``x[t]``.
        bias: ``(C_out,)`` or ``None``.
        dilation: spacing of the taps; 1 means contiguous.
        method: the algorithm of :func:`convlib.functional.conv1d`.

    Returns:
        ``y`` with ``y[:, :, t]`` a function of ``input[:, :, :t + 1]`` only.

    Shapes:
        ``(N, C_in, L) -> (N, C_out, L)``.

    >>> causal_conv1d(torch.arange(1.0, 6.0).view(1, 1, 5), torch.tensor([[[1.0, 1.0]]]))  # x[t-1] + x[t]
    tensor([[[1., 3., 5., 7., 9.]]])
    """
    if isinstance(dilation, bool) or not isinstance(dilation, int) or dilation < 1:
        raise ValueError(f"causal_conv1d: dilation must be a positive int, got {dilation!r}")
    if weight.ndim != 3:
        raise ValueError(f"causal_conv1d: weight must be (C_out, C_in, k), got shape {tuple(weight.shape)}")
    context = dilation * (weight.shape[2] - 1)
    padded = F.pad(input, (context, 0))  # (N, C_in, context + L): zeros before the first sample
    return functional.conv1d(padded, weight, bias, dilation=dilation, method=method)


class CausalConv1d(Conv1d):
    """A :class:`convlib.nn.Conv1d` with stride 1 that pads ``d(k-1)`` zeros on the left only.

    Its ``padding`` attribute stays 0, so :func:`convlib.receptive_field.receptive_field` reads the
    right field *size*; the field of output ``t`` ends at input ``t``.

    Args:
        in_channels: ``C_in``.
        out_channels: ``C_out``.
        kernel_size: ``k``.
        dilation: ``d``; the layer looks ``d(k-1)`` steps into the past (:attr:`context`).
        bias: whether to add a learnt bias.
        method: the algorithm of :func:`convlib.functional.conv1d`.

    Shapes:
        ``(N, C_in, L) -> (N, C_out, L)``; weight ``(C_out, C_in, k)``.

    >>> layer = CausalConv1d(1, 1, kernel_size=2, dilation=4)
    >>> layer.context, layer(torch.zeros(1, 1, 10)).shape  # 4 * (2 - 1) samples of the past
    (4, torch.Size([1, 1, 10]))
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        dilation: int = 1,
        bias: bool = True,
        *,
        method: str = "auto",
    ) -> None:
        for name, value in (("kernel_size", kernel_size), ("dilation", dilation)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"CausalConv1d: {name} must be a positive int, got {value!r}")
        super().__init__(in_channels, out_channels, kernel_size, dilation=dilation, bias=bias, method=method)

    @property
    def context(self) -> int:
        """How many past inputs each output reads besides the current one, ``d(k-1)``."""
        return self.dilation[0] * (self.kernel_size[0] - 1)

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        """Left-pad ``input`` by :attr:`context` zeros and convolve it."""
        return super().forward(F.pad(input, (self.context, 0)))  # (N, C_in, context + L)


class Streamer:
    """Run a stack of causal layers on a sequence that arrives in chunks.

    For every :class:`CausalConv1d` the streamer keeps a buffer of the last ``d(k-1)`` inputs that
    layer has seen, zeros at first (the causal padding). A chunk of length ``T`` is appended to the
    buffer, the layer runs *without* padding on those ``d(k-1) + T`` samples and gives exactly ``T``
    outputs, and the buffer keeps the last ``d(k-1)`` of them. Position-wise layers need no buffer.

    Args:
        model: an ``nn.Sequential`` of :class:`CausalConv1d` and position-wise layers
            (:data:`~convlib.receptive_field.POSITIONWISE`: ReLU, Tanh, BatchNorm in eval mode, ...).

    Shapes:
        each call: ``(N, C_in, T) -> (N, C_out, T)``, any ``T >= 1``; ``N`` fixed until :meth:`reset`.

    >>> model = nn.Sequential(CausalConv1d(1, 2, 2), nn.ReLU(), CausalConv1d(2, 1, 2, dilation=2))
    >>> x = torch.randn(1, 1, 12); stream = Streamer(model)
    >>> pieces = [stream(chunk) for chunk in x.split(5, dim=2)]  # chunks of 5, 5 and 2 samples
    >>> torch.allclose(torch.cat(pieces, dim=2), model(x), atol=1e-6)
    True
    """

    def __init__(self, model: nn.Sequential) -> None:
        if not isinstance(model, nn.Sequential):
            raise TypeError(f"Streamer: model must be an nn.Sequential, got {type(model).__name__}")
        for i, layer in enumerate(model):
            if not isinstance(layer, (CausalConv1d, *POSITIONWISE)):
                raise TypeError(
                    f"Streamer: layer {i} ({type(layer).__name__}) is neither a CausalConv1d nor position-wise; "
                    f"it may look at the future or at other time steps"
                )
        self.model = model
        self.buffers: list[torch.Tensor | None] = [None] * len(model)

    def reset(self) -> None:
        """Forget the past: the next chunk starts a new sequence."""
        self.buffers = [None] * len(self.model)

    def __call__(self, chunk: torch.Tensor) -> torch.Tensor:
        """Process the next ``chunk`` of the sequence and return its outputs."""
        if not (isinstance(chunk, torch.Tensor) and chunk.ndim == 3 and chunk.shape[2] >= 1):
            raise ValueError(f"Streamer: chunk must be (N, C, T) with T >= 1, got {getattr(chunk, 'shape', chunk)}")
        h = chunk
        for i, layer in enumerate(self.model):
            if not isinstance(layer, CausalConv1d):
                h = layer(h)
                continue
            past = self.buffers[i]
            if past is None:
                past = h.new_zeros(h.shape[0], h.shape[1], layer.context)  # the causal padding
            joined = torch.cat([past, h], dim=2)  # (N, C_in, context + T)
            self.buffers[i] = joined[:, :, joined.shape[2] - layer.context :]  # (N, C_in, context)
            h = functional.conv1d(joined, layer.weight, layer.bias, dilation=layer.dilation, method=layer.method)
        return h
