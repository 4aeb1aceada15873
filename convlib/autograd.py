"""The hand-written backward pass: convolution and transposed convolution as ``torch.autograd.Function``.

Autograd never looks inside our forward algorithms. Each ``Function`` states its gradients
explicitly, with the formulas derived in the course's backprop chapter:

==================  ==========================================  ==========================================
                    ``Conv``: ``y = conv(x, K) + u``            ``ConvTranspose``: ``y = conv^T(x, K) + u``
==================  ==========================================  ==========================================
``grad_x``          ``conv^T(grad_y, K)``                       ``conv(grad_y, K)``
``grad_K``          ``corr(x_pad, grad_y)``                     ``corr(grad_y_pad, x)``
``grad_u``          ``grad_y`` summed over batch and space      the same
==================  ==========================================  ==========================================

The two ``Function`` s are mirror images: a transposed convolution *is* the input gradient of a
convolution, and so its own input gradient is a convolution. ``corr`` is
:func:`~convlib.transposed.conv_weight_grad`. All three maps run on the algorithm the caller chose, a
:class:`~convlib.transposed.Method`: its correlation, and its transposed convolution.

The backward passes are ``once_differentiable``: they are exact first derivatives, but a second
derivative (a gradient penalty, a Hessian-vector product) raises an error rather than being wrong.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch.autograd.function import once_differentiable

from convlib.loops import trailing
from convlib.transposed import Method, Padding, conv_weight_grad, pad


def _with_bias(y: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """Add a per-channel bias ``(C_out,)`` to ``y`` of shape ``(N, C_out, *spatial)``; returns a contiguous tensor."""
    if bias is None:
        return y.contiguous()  # algorithms may return a cropped view; callers expect torch's layout
    b = bias.view(-1, *[1] * (y.ndim - 2))  # (C_out, 1, ..., 1) broadcasts over space
    if y.is_contiguous():
        return y.add_(b)
    return torch.add(y, b, out=y.new_empty(y.shape))  # the layout copy and the bias in one pass


def _tracked(*tensors: torch.Tensor | None) -> bool:
    """Whether autograd must record an op on ``tensors``: grad mode is on and one of them requires grad."""
    return torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in tensors)


def apply_conv(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    stride: Sequence[int],
    padding: Padding,
    dilation: Sequence[int],
    groups: int,
    method: Method,
) -> torch.Tensor:
    """``conv(x, K) + u`` through :class:`Conv` when a gradient may be needed, else directly.

    Calling a ``torch.autograd.Function`` costs tens of microseconds, as much as a small
    convolution itself; inference (``torch.no_grad()``, or no input requiring grad) skips it.

    Args:
        x: unpadded input.
        weight: kernel.
        bias: per-channel bias or ``None``.
        stride, padding, dilation, groups: checked and normalised, as :class:`Conv` takes them.
        method: the algorithm.

    Returns:
        the convolution.

    Shapes:
        ``x: (N, C_in, *size)``, ``weight: (C_out, C_in/groups, *k)`` -> ``(N, C_out, *out)``.

    >>> from convlib.loops import correlate
    >>> x, k = torch.arange(4.0).view(1, 1, 4), torch.ones(1, 1, 2)
    >>> apply_conv(x, k, None, [1], [(0, 0)], [1], 1, Method.generic(correlate))
    tensor([[[1., 3., 5.]]])
    """
    if _tracked(x, weight, bias):
        return Conv.apply(x, weight, bias, stride, padding, dilation, groups, method)
    return _forward(x, weight, bias, stride, padding, dilation, groups, method)


def apply_conv_transpose(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    size: Sequence[int],
    stride: Sequence[int],
    padding: Padding,
    dilation: Sequence[int],
    groups: int,
    method: Method,
) -> torch.Tensor:
    """``conv^T(x, K) + u`` through :class:`ConvTranspose` when a gradient may be needed, else directly.

    Args:
        x: input.
        weight: kernel, ``(C_in, C_out/groups, *k)`` as in torch.
        bias: per-channel bias or ``None``.
        size: spatial size of the output.
        stride, padding, dilation, groups: of the direct convolution, checked and normalised.
        method: the algorithm.

    Returns:
        the transposed convolution.

    Shapes:
        ``x: (N, C_in, *i)``, ``weight: (C_in, C_out/groups, *k)`` -> ``(N, C_out, *size)``.

    >>> from convlib.loops import correlate
    >>> x, k = torch.ones(1, 1, 2), torch.ones(1, 1, 3)
    >>> apply_conv_transpose(x, k, None, [5], [2], [(0, 0)], [1], 1, Method.generic(correlate))
    tensor([[[1., 1., 2., 1., 1.]]])
    """
    if _tracked(x, weight, bias):
        return ConvTranspose.apply(x, weight, bias, size, stride, padding, dilation, groups, method)
    return _with_bias(method.transpose(x, weight, size, stride, padding, dilation, groups), bias)


def _forward(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    stride: Sequence[int],
    padding: Padding,
    dilation: Sequence[int],
    groups: int,
    method: Method,
) -> torch.Tensor:
    """``conv(x, K) + u``, recording nothing: the forward of :class:`Conv`."""
    return _with_bias(method.correlate(pad(x, padding, temporary=True), weight, stride, dilation, groups), bias)


def _bias_grad(grad_y: torch.Tensor) -> torch.Tensor:
    """``grad_u[o] = sum_{n, i} grad_y[n, o, i]``: each bias entry was added to every pixel of its channel."""
    return grad_y.sum(dim=(0, *range(2, grad_y.ndim)))


class Conv(torch.autograd.Function):
    """``y = conv(x, K) + u`` with padding, stride, dilation and groups; gradients by hand.

    Use it through :func:`convlib.functional.conv2d` and friends, which check the arguments first:
    ``Conv.apply(x, weight, bias, stride, padding, dilation, groups, method)`` with ``padding``
    as ``(before, after)`` pairs and ``method`` the algorithm.
    """

    @staticmethod
    def forward(
        ctx: Any,
        x: torch.Tensor,
        weight: torch.Tensor,
        bias: torch.Tensor | None,
        stride: Sequence[int],
        padding: Padding,
        dilation: Sequence[int],
        groups: int,
        method: Method,
    ) -> torch.Tensor:
        ctx.save_for_backward(x, weight)
        ctx.geometry = (stride, padding, dilation, groups)
        ctx.method = method
        return _forward(x, weight, bias, stride, padding, dilation, groups, method)

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad_y: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        x, weight = ctx.saved_tensors
        stride, padding, dilation, groups = ctx.geometry
        method = ctx.method
        need_x, need_k, need_u = ctx.needs_input_grad[:3]
        grad_x = grad_k = None
        if need_x:
            grad_x = method.transpose(grad_y, weight, x.shape[2:], stride, padding, dilation, groups)
        if need_k:
            kernel = weight.shape[2:]
            grad_k = conv_weight_grad(x, grad_y, kernel, stride, padding, dilation, groups, method.correlate)
        grad_u = _bias_grad(grad_y) if need_u else None
        return grad_x, grad_k, grad_u, None, None, None, None, None


class ConvTranspose(torch.autograd.Function):
    """``y = conv^T(x, K) + u``, the adjoint of :class:`Conv` w.r.t. its input; gradients by hand.

    ``ConvTranspose.apply(x, weight, bias, size, stride, padding, dilation, groups, method)``:
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
        stride: Sequence[int],
        padding: Padding,
        dilation: Sequence[int],
        groups: int,
        method: Method,
    ) -> torch.Tensor:
        ctx.save_for_backward(x, weight)
        ctx.geometry = (stride, padding, dilation, groups)
        ctx.method = method
        return _with_bias(method.transpose(x, weight, size, stride, padding, dilation, groups), bias)

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad_y: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        x, weight = ctx.saved_tensors
        stride, padding, dilation, groups = ctx.geometry
        correlate = ctx.method.correlate
        need_x, need_k, need_u = ctx.needs_input_grad[:3]
        grad_x = grad_k = grad_u = None
        if need_x:
            grad_x = correlate(pad(grad_y, padding, temporary=True), weight, stride, dilation, groups)  # (N, C_in, *o')
            # with output_padding >= stride, conv(grad_y) has extra trailing outputs that x never had
            grad_x = grad_x[trailing(slice(0, i) for i in x.shape[2:])]  # (N, C_in, *x.size)
        if need_k:
            grad_k = conv_weight_grad(grad_y, x, weight.shape[2:], stride, padding, dilation, groups, correlate)
        if need_u:
            grad_u = _bias_grad(grad_y)
        return grad_x, grad_k, grad_u, None, None, None, None, None, None
