"""Layer modules that run convlib's ops: drop-in replacements for five ``torch.nn`` layers.

Each class *subclasses* its ``torch.nn`` namesake and overrides only ``forward``, so the
constructor, the defaults, the parameter initialisation (``kaiming_uniform_(a=sqrt(5))`` and the
matching uniform bias, from ``_ConvNd.reset_parameters``), the ``state_dict`` keys and the repr are
torch's by construction. A ``torch.nn.Conv2d`` state dict therefore loads into ``convlib.nn.Conv2d``
and back, and the same seed gives the same weights. ``isinstance(m, torch.nn.Conv2d)`` stays true,
so code that walks a model (e.g. :func:`convlib.receptive_field.receptive_field`) treats both alike.

The convolutions take one extra keyword-only argument, ``method``, which picks the algorithm in
:mod:`convlib.functional` (``"auto"`` lets it choose); it is configuration, not state, so it is not
in the ``state_dict``.
"""

from __future__ import annotations

from typing import Any, cast

import torch
from torch import nn

from convlib import _validate as check
from convlib import functional, pooling


def _with_method(repr_: str, method: str) -> str:
    """Torch's repr, plus ``method`` when it is not the default (torch also omits defaults)."""
    return repr_ if method == "auto" else f"{repr_}, method={method!r}"


def _check_method(method: object, op: str) -> str:
    """Fail when the layer is built, not at its first forward."""
    return check.choice(method, functional.METHODS, "method", op)


class Conv1d(nn.Conv1d):
    """``torch.nn.Conv1d`` computed by :func:`convlib.functional.conv1d`.

    Args:
        *args: ``torch.nn.Conv1d``'s arguments, unchanged: ``in_channels, out_channels, kernel_size,
            stride=1, padding=0, dilation=1, groups=1, bias=True, padding_mode="zeros"``, ...
        method: the algorithm, one of :data:`~convlib.algorithms.registry.METHODS`, passed to ``conv1d``.
        **kwargs: more of ``torch.nn.Conv1d``'s arguments, by name.

    Shapes:
        ``(N, C_in, L) -> (N, C_out, L_out)``; weight ``(C_out, C_in/groups, k)``.

    >>> m = Conv1d(2, 4, 3, padding=1, method="im2col")
    >>> m(torch.zeros(1, 2, 10)).shape  # padding 1 keeps the length: 10 + 2 - 3 + 1
    torch.Size([1, 4, 10])
    """

    def __init__(self, *args: Any, method: str = "auto", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.method = _check_method(method, "Conv1d")

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        """Convolve ``input`` with this layer's weight and bias."""
        return functional.conv1d(
            input,
            self.weight,
            self.bias,
            self.stride,
            self.padding,
            self.dilation,
            self.groups,
            padding_mode=self.padding_mode,
            method=self.method,
        )

    def extra_repr(self) -> str:
        return _with_method(super().extra_repr(), self.method)


class Conv2d(nn.Conv2d):
    """``torch.nn.Conv2d`` computed by :func:`convlib.functional.conv2d`.

    Args:
        *args: ``torch.nn.Conv2d``'s arguments, unchanged: ``in_channels, out_channels, kernel_size,
            stride=1, padding=0, dilation=1, groups=1, bias=True, padding_mode="zeros"``, ...
        method: the algorithm, one of :data:`~convlib.algorithms.registry.METHODS`, passed to ``conv2d``.
        **kwargs: more of ``torch.nn.Conv2d``'s arguments, by name.

    Shapes:
        ``(N, C_in, H, W) -> (N, C_out, H_out, W_out)``; weight ``(C_out, C_in/groups, kH, kW)``.

    >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
    <torch._C.Generator object at ...>
    >>> m = Conv2d(3, 8, 3, stride=2)
    >>> m, m(torch.zeros(1, 3, 7, 7)).shape  # floor((7 - 3) / 2) + 1 = 3
    (Conv2d(3, 8, kernel_size=(3, 3), stride=(2, 2)), torch.Size([1, 8, 3, 3]))
    """

    def __init__(self, *args: Any, method: str = "auto", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.method = _check_method(method, "Conv2d")

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        """Convolve ``input`` with this layer's weight and bias."""
        return functional.conv2d(
            input,
            self.weight,
            self.bias,
            self.stride,
            self.padding,
            self.dilation,
            self.groups,
            padding_mode=self.padding_mode,
            method=self.method,
        )

    def extra_repr(self) -> str:
        return _with_method(super().extra_repr(), self.method)


class ConvTranspose2d(nn.ConvTranspose2d):
    """``torch.nn.ConvTranspose2d`` computed by :func:`convlib.functional.conv_transpose2d`.

    The weight is laid out ``(C_in, C_out/groups, kH, kW)``, transposed relative to ``Conv2d``,
    because the layer is the gradient of a ``Conv2d`` that maps ``C_out`` channels to ``C_in``.

    Args:
        *args: ``torch.nn.ConvTranspose2d``'s arguments, unchanged: ``in_channels, out_channels,
            kernel_size, stride=1, padding=0, output_padding=0, groups=1, bias=True, dilation=1``, ...
        method: the algorithm, one of :data:`~convlib.algorithms.registry.METHODS`, passed to ``conv_transpose2d``.
        **kwargs: more of ``torch.nn.ConvTranspose2d``'s arguments, by name.

    Shapes:
        ``(N, C_in, H, W) -> (N, C_out, H_out, W_out)``, each axis by
        :func:`convlib.shapes.conv_transpose_output_size`; ``forward(x, output_size)`` picks
        ``output_padding`` to reach ``output_size``.

    >>> m = ConvTranspose2d(4, 2, 3, stride=2, padding=1)
    >>> m(torch.zeros(1, 4, 5, 5)).shape  # (5 - 1) * 2 - 2 + 2 + 1 = 9
    torch.Size([1, 2, 9, 9])
    """

    def __init__(self, *args: Any, method: str = "auto", **kwargs: Any) -> None:
        padding = kwargs.get("padding", args[4] if len(args) > 4 else 0)
        if isinstance(padding, str):  # torch would split "same" into 4 letters and fail in forward
            raise ValueError(f"ConvTranspose2d: padding must be an int or a tuple of 2 ints, got {padding!r}")
        super().__init__(*args, **kwargs)
        self.method = _check_method(method, "ConvTranspose2d")

    def forward(self, input: torch.Tensor, output_size: list[int] | None = None) -> torch.Tensor:
        """Transposed-convolve ``input``; ``output_size`` resolves the stride's ambiguity, as in torch."""
        if self.padding_mode != "zeros":
            raise ValueError(f"ConvTranspose2d: padding_mode must be 'zeros', got {self.padding_mode!r}")
        padding = cast(tuple[int, int], self.padding)  # __init__ refused a str
        output_padding = self._output_padding(
            input, output_size, list(self.stride), list(padding), list(self.kernel_size), 2, list(self.dilation)
        )
        return functional.conv_transpose2d(
            input,
            self.weight,
            self.bias,
            self.stride,
            padding,
            output_padding,
            self.groups,
            self.dilation,
            method=self.method,
        )

    def extra_repr(self) -> str:
        return _with_method(super().extra_repr(), self.method)


class MaxPool2d(nn.MaxPool2d):
    """``torch.nn.MaxPool2d`` computed by :func:`convlib.pooling.max_pool2d`.

    Args:
        *args: ``torch.nn.MaxPool2d``'s arguments, unchanged: ``kernel_size, stride=None, padding=0,
            dilation=1, return_indices=False, ceil_mode=False``.
        **kwargs: the same, by name.

    Shapes:
        ``(N, C, H, W) -> (N, C, H_out, W_out)``, each axis by :func:`convlib.shapes.pool_output_size`.

    >>> MaxPool2d(2)(torch.arange(16.0).reshape(1, 1, 4, 4))  # 5 = max(0, 1, 4, 5)
    tensor([[[[ 5.,  7.],
              [13., 15.]]]])
    """

    def forward(self, input: torch.Tensor) -> Any:
        """Max-pool ``input``; also return the indices if the layer was built with ``return_indices``."""
        return pooling.max_pool2d(
            input,
            self.kernel_size,
            self.stride,
            self.padding,
            self.dilation,
            ceil_mode=self.ceil_mode,
            return_indices=self.return_indices,
        )


class AvgPool2d(nn.AvgPool2d):
    """``torch.nn.AvgPool2d`` computed by :func:`convlib.pooling.avg_pool2d`.

    Args:
        *args: ``torch.nn.AvgPool2d``'s arguments, unchanged: ``kernel_size, stride=None, padding=0,
            ceil_mode=False, count_include_pad=True, divisor_override=None``.
        **kwargs: the same, by name.

    Shapes:
        ``(N, C, H, W) -> (N, C, H_out, W_out)``, each axis by :func:`convlib.shapes.pool_output_size`.

    >>> AvgPool2d(2)(torch.arange(16.0).reshape(1, 1, 4, 4))  # 2.5 = (0 + 1 + 4 + 5) / 4
    tensor([[[[ 2.5000,  4.5000],
              [10.5000, 12.5000]]]])
    """

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        """Average-pool ``input``."""
        return pooling.avg_pool2d(
            input,
            self.kernel_size,
            self.stride,
            self.padding,
            self.ceil_mode,
            self.count_include_pad,
            self.divisor_override,
        )
