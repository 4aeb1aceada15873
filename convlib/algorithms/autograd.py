"""The hand-written backward pass: convolution and transposed convolution as ``torch.autograd.Function``.

Autograd never looks inside our forward algorithms. Each ``Function`` states its gradients
explicitly, with the formulas that :mod:`convlib.algorithms.adjoint` derives:

==================  ==========================================  ==========================================
                    ``Conv``: ``y = conv(x, K) + u``            ``ConvTranspose``: ``y = conv^T(x, K) + u``
==================  ==========================================  ==========================================
``grad_x``          ``conv^T(grad_y, K)``                       ``conv(grad_y, K)``
``grad_K``          ``corr(x_pad, grad_y)``                     ``corr(grad_y_pad, x)``
``grad_u``          ``grad_y`` summed over batch and space      the same
==================  ==========================================  ==========================================

The two ``Function`` s are mirror images: a transposed convolution *is* the input gradient of a
convolution, and so its own input gradient is a convolution. ``corr`` is
:func:`~convlib.algorithms.adjoint.conv_weight_grad`. All three maps run on the algorithm the caller chose, a
:class:`~convlib.algorithms.registry.Method`: its correlation, its transposed convolution and its
bias addition.

``Conv`` saves ``x`` and ``K`` for the backward pass, not ``y``: both gradients are linear maps of
``grad_y`` whose coefficients are the other factor.

The backward passes are ``once_differentiable``: they are exact first derivatives, but a second
derivative (a gradient penalty, a Hessian-vector product) raises an error rather than being wrong.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import torch
from torch.autograd.function import once_differentiable

from convlib.algorithms.adjoint import conv_weight_grad
from convlib.algorithms.grid import trailing
from convlib.geometry import Geometry

if TYPE_CHECKING:
    from convlib.algorithms.registry import Method


def add_bias(y: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """Add each output channel's bias at every position; the result is contiguous, as torch's is.

    This is the plain version, :data:`~convlib.algorithms.registry.PLAIN`'s; :data:`~convlib.algorithms.registry.FAST`
    adds in place instead (:mod:`~convlib.algorithms._fast`).

    Args:
        y: a correlation, possibly a cropped view (the FFT's is).
        bias: one value per output channel, or ``None``.

    Returns:
        ``y + u``.

    Shapes:
        ``y: (N, C_out, *spatial)``, ``bias: (C_out,)`` -> ``(N, C_out, *spatial)``.

    >>> add_bias(torch.zeros(1, 2, 3), torch.tensor([1.0, -1.0]))
    tensor([[[ 1.,  1.,  1.],
             [-1., -1., -1.]]])
    """
    if bias is None:
        return y.contiguous()
    return y + bias.view(-1, *[1] * (y.ndim - 2))  # (C_out, 1, ..., 1) broadcasts over batch and space


def _tracked(*tensors: torch.Tensor | None) -> bool:
    """Whether autograd must record an op on ``tensors``: grad mode is on and one of them requires grad."""
    return torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in tensors)


def apply_conv(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    geometry: Geometry,
    method: Method,
) -> torch.Tensor:
    """``conv(x, K) + u`` through :class:`Conv` when a gradient may be needed, else directly.

    Calling a ``torch.autograd.Function`` costs tens of microseconds, as much as a small
    convolution itself; inference (``torch.no_grad()``, or no input requiring grad) skips it.

    Args:
        x: unpadded input.
        weight: kernel.
        bias: per-channel bias or ``None``.
        geometry: checked and normalised.
        method: the algorithm.

    Returns:
        the convolution.

    Shapes:
        ``x: (N, C_in, *size)``, ``weight: (C_out, C_in/groups, *k)`` -> ``(N, C_out, *out)``.

    >>> from convlib.algorithms.registry import PLAIN
    >>> x, k = torch.arange(4.0).view(1, 1, 4), torch.ones(1, 1, 2)
    >>> apply_conv(x, k, None, Geometry.of(1), PLAIN["loops"])  # sums of neighbours
    tensor([[[1., 3., 5.]]])
    """
    if _tracked(x, weight, bias):
        return Conv.apply(x, weight, bias, geometry, method)
    return method.add_bias(method.correlate(x, weight, geometry), bias)


def apply_conv_transpose(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    size: Sequence[int],
    geometry: Geometry,
    method: Method,
) -> torch.Tensor:
    """``conv^T(x, K) + u`` through :class:`ConvTranspose` when a gradient may be needed, else directly.

    Args:
        x: input.
        weight: kernel, ``(C_in, C_out/groups, *k)`` as in torch.
        bias: per-channel bias or ``None``.
        size: spatial size of the output.
        geometry: of the direct convolution, checked and normalised.
        method: the algorithm.

    Returns:
        the transposed convolution.

    Shapes:
        ``x: (N, C_in, *i)``, ``weight: (C_in, C_out/groups, *k)`` -> ``(N, C_out, *size)``.

    >>> from convlib.algorithms.registry import PLAIN
    >>> x, k = torch.ones(1, 1, 2), torch.ones(1, 1, 3)
    >>> apply_conv_transpose(x, k, None, [5], Geometry.of(1, stride=2), PLAIN["loops"])  # two stamps, overlapping once
    tensor([[[1., 1., 2., 1., 1.]]])
    """
    if _tracked(x, weight, bias):
        return ConvTranspose.apply(x, weight, bias, size, geometry, method)
    return method.add_bias(method.transpose(x, weight, size, geometry), bias)


def _bias_grad(grad_y: torch.Tensor) -> torch.Tensor:
    """``grad_u[o] = sum_{n, i} grad_y[n, o, i]``: each bias entry was added to every pixel of its channel."""
    return grad_y.sum(dim=(0, *range(2, grad_y.ndim)))


class Conv(torch.autograd.Function):
    """``y = conv(x, K) + u`` with padding, stride, dilation and groups; gradients by hand.

    Use it through :func:`convlib.functional.conv2d` and friends, which check the arguments first:
    ``Conv.apply(x, weight, bias, geometry, method)``, with ``method`` the algorithm.
    """

    @staticmethod
    def forward(
        ctx: Any,
        x: torch.Tensor,
        weight: torch.Tensor,
        bias: torch.Tensor | None,
        geometry: Geometry,
        method: Method,
    ) -> torch.Tensor:
        ctx.save_for_backward(x, weight)
        ctx.geometry, ctx.method = geometry, method
        return method.add_bias(method.correlate(x, weight, geometry), bias)

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad_y: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        x, weight = ctx.saved_tensors
        geometry, method = ctx.geometry, ctx.method
        need_x, need_k, need_u = ctx.needs_input_grad[:3]
        grad_x = grad_k = None
        if need_x:
            grad_x = method.transpose(grad_y, weight, x.shape[2:], geometry)
        if need_k:
            grad_k = conv_weight_grad(x, grad_y, weight.shape[2:], geometry, method.correlate)
        grad_u = _bias_grad(grad_y) if need_u else None
        return grad_x, grad_k, grad_u, None, None


class ConvTranspose(torch.autograd.Function):
    """``y = conv^T(x, K) + u``, the adjoint of :class:`Conv` w.r.t. its input; gradients by hand.

    ``ConvTranspose.apply(x, weight, bias, size, geometry, method)``:
    ``weight`` is ``(C_in, C_out/groups, *k)`` as in torch, i.e. the kernel of the convolution that
    maps ``y``'s shape back to ``x``'s, and ``size`` is the output's spatial size (which is how
    ``output_padding`` arrives here).
    """

    @staticmethod
    def forward(
        ctx: Any,
        x: torch.Tensor,
        weight: torch.Tensor,
        bias: torch.Tensor | None,
        size: Sequence[int],
        geometry: Geometry,
        method: Method,
    ) -> torch.Tensor:
        ctx.save_for_backward(x, weight)
        ctx.geometry, ctx.method = geometry, method
        return method.add_bias(method.transpose(x, weight, size, geometry), bias)

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad_y: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        x, weight = ctx.saved_tensors
        geometry, correlate = ctx.geometry, ctx.method.correlate
        need_x, need_k, need_u = ctx.needs_input_grad[:3]
        grad_x = grad_k = grad_u = None
        if need_x:
            grad_x = correlate(grad_y, weight, geometry)  # (N, C_in, *o')
            # with output_padding >= stride, conv(grad_y) has extra trailing outputs that x never had
            grad_x = grad_x[trailing(slice(0, i) for i in x.shape[2:])]  # (N, C_in, *x.size)
        if need_k:
            grad_k = conv_weight_grad(grad_y, x, weight.shape[2:], geometry, correlate)
        if need_u:
            grad_u = _bias_grad(grad_y)
        return grad_x, grad_k, grad_u, None, None, None
