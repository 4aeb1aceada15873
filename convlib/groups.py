"""Group-equivariant convolution for p4: translations and rotations by multiples of 90°.

Cohen & Welling, "Group Equivariant Convolutional Networks", ICML 2016. An ordinary convolution
commutes with translations; a p4 convolution also commutes with quarter turns. It is built here
from ordinary convolutions (:func:`convlib.functional.conv2d`) by rotating and cycling kernels:

- the **lifting convolution** correlates an image with the four rotated copies of each kernel and
  returns a *p4 feature map* of shape ``(N, C, 4, H, W)``: axis 2 is the rotation ``r = 0..3``;
- the **group convolution** maps p4 feature maps to p4 feature maps; for output rotation ``r`` its
  kernel is the stored one, rotated by ``r`` in space and rolled by ``r`` along its rotation axis;
- **rotation pooling** (max or mean over axis 2) forgets the orientation.

Convention: "rotate by ``r``" is ``torch.rot90(x, r, dims=(-2, -1))``, ``r`` quarter turns
counterclockwise as an image is displayed (row 0 at the top). A quarter turn acts on a p4 feature
map by rotating every plane and rolling the rotation axis by one (:func:`rotate_p4`); both layers
commute with that action exactly, for any square kernel (odd or even ``k``) and any padding, since
the padding is the same on every side.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import torch
from torch import nn

from convlib import functional

#: ``conv(input, weight, bias, stride, padding)``: convlib's conv2d, or torch's of the same signature.
Conv = Callable[..., torch.Tensor]


def _check(x: object, ndim: int, name: str, op: str, layout: str) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{op}: {name} must be a tensor, got {type(x).__name__}")
    if x.ndim != ndim:
        raise ValueError(f"{op}: {name} must be {layout}, got shape {tuple(x.shape)}")
    return x


def rotate(x: torch.Tensor, r: int) -> torch.Tensor:
    """Rotate the last two axes by ``r`` quarter turns counterclockwise (as displayed).

    Args:
        x: any tensor with at least two axes, ``(..., H, W)``.
        r: quarter turns; any int, taken modulo 4.

    Returns:
        the rotated tensor, ``(..., W, H)`` for odd ``r``.

    Shapes:
        ``(..., H, W) -> (..., H, W)`` for even ``r``, ``(..., W, H)`` for odd ``r``.

    >>> rotate(torch.tensor([[1, 2], [3, 4]]), 1)  # the top-right 2 moves to the top left
    tensor([[2, 4],
            [1, 3]])
    """
    return torch.rot90(x, r % 4, dims=(-2, -1))


def rotate_p4(x: torch.Tensor, r: int) -> torch.Tensor:
    """How a rotation by ``r`` quarter turns acts on a p4 feature map: rotate planes, roll orientations.

    Args:
        x: a p4 feature map ``(..., 4, H, W)``.
        r: quarter turns.

    Returns:
        ``y`` with ``y[..., s, :, :] = rotate(x[..., s - r, :, :], r)`` (indices modulo 4).

    Shapes:
        ``(..., 4, H, W) -> (..., 4, W, H)`` for odd ``r``.

    >>> x = torch.arange(4.0).view(4, 1, 1)  # orientation s holds the value s
    >>> rotate_p4(x, 1).flatten().tolist()  # orientation s now holds what s - 1 held
    [3.0, 0.0, 1.0, 2.0]
    """
    if x.ndim < 3 or x.shape[-3] != 4:
        raise ValueError(f"rotate_p4: x must be (..., 4, H, W), got shape {tuple(x.shape)}")
    return torch.roll(rotate(x, r), shifts=r % 4, dims=-3)


def lifting_kernels(weight: torch.Tensor) -> torch.Tensor:
    """The four rotated copies of every kernel, stacked as one ordinary weight.

    Args:
        weight: ``(C_out, C_in, k, k)``.

    Returns:
        ``(C_out * 4, C_in, k, k)``; row ``o * 4 + r`` is ``rotate(weight[o], r)``.

    >>> lifting_kernels(torch.zeros(2, 3, 5, 5)).shape
    torch.Size([8, 3, 5, 5])
    """
    weight = _check(weight, 4, "weight", "lifting_kernels", "(C_out, C_in, k, k)")
    stacked = torch.stack([rotate(weight, r) for r in range(4)], dim=1)  # (C_out, 4, C_in, k, k)
    return stacked.flatten(0, 1)  # (C_out * 4, C_in, k, k)


def group_kernels(weight: torch.Tensor) -> torch.Tensor:
    """The kernels of a p4 group convolution as one ordinary weight: rotate, and cycle orientations.

    Args:
        weight: ``(C_out, C_in, 4, k, k)``: for each output and input channel, one kernel per input
            orientation ``s``.

    Returns:
        ``(C_out * 4, C_in * 4, k, k)``: the kernel for output orientation ``r`` and input
        orientation ``s`` is ``rotate(weight[:, :, (s - r) % 4], r)``.

    >>> w = torch.arange(4.0).view(1, 1, 4, 1, 1)  # a 1x1 kernel per input orientation: 0, 1, 2, 3
    >>> group_kernels(w).view(4, 4)  # row r (output orientation) is the stored row rolled by r
    tensor([[0., 1., 2., 3.],
            [3., 0., 1., 2.],
            [2., 3., 0., 1.],
            [1., 2., 3., 0.]])
    """
    weight = _check(weight, 5, "weight", "group_kernels", "(C_out, C_in, 4, k, k)")
    if weight.shape[2] != 4:
        raise ValueError(f"group_kernels: weight must be (C_out, C_in, 4, k, k), got {tuple(weight.shape)}")
    rolled = [rotate(torch.roll(weight, shifts=r, dims=2), r) for r in range(4)]  # 4 x (C_out, C_in, 4, k, k)
    return torch.stack(rolled, dim=1).flatten(0, 1).flatten(1, 2)  # (C_out * 4, C_in * 4, k, k)


def _p4_bias(bias: torch.Tensor | None) -> torch.Tensor | None:
    return None if bias is None else bias.repeat_interleave(4)  # one bias per channel, shared by orientations


def lifting_conv2d(
    input: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    padding: int = 0,
    *,
    conv: Conv = functional.conv2d,
) -> torch.Tensor:
    """Lift an image to a p4 feature map: correlate it with each kernel in four orientations.

    ``Y[n, o, r] = u[o] + sum_c X[n, c] ⋆ rotate(K[o, c], r)``. Rotating the input by a quarter
    turn rotates each output plane and moves orientation ``r`` to ``r + 1``
    (:func:`rotate_p4`), exactly, for any square kernel and padding (the same on every side).

    Args:
        input: ``(N, C_in, H, W)``.
        weight: ``(C_out, C_in, k, k)``.
        bias: ``(C_out,)``, shared by the four orientations, or ``None``.
        padding: zero padding per side; ``(k - 1) // 2`` keeps the size for odd ``k``.
        conv: the ordinary convolution to run (``convlib.functional.conv2d`` by default).

    Returns:
        the p4 feature map.

    Shapes:
        ``(N, C_in, H, W) -> (N, C_out, 4, H', W')`` with ``H' = H + 2p - k + 1``.

    >>> lifting_conv2d(torch.zeros(2, 1, 9, 9), torch.zeros(3, 1, 5, 5), padding=2).shape
    torch.Size([2, 3, 4, 9, 9])
    """
    input = _check(input, 4, "input", "lifting_conv2d", "(N, C_in, H, W)")
    weight = _check(weight, 4, "weight", "lifting_conv2d", "(C_out, C_in, k, k)")
    if weight.shape[-1] != weight.shape[-2]:
        raise ValueError(f"lifting_conv2d: kernels must be square, got {tuple(weight.shape[-2:])}")
    y = conv(input, lifting_kernels(weight), _p4_bias(bias), 1, padding)  # (N, C_out * 4, H', W')
    return y.unflatten(1, (weight.shape[0], 4))  # (N, C_out, 4, H', W')


def group_conv2d(
    input: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    padding: int = 0,
    *,
    conv: Conv = functional.conv2d,
) -> torch.Tensor:
    """p4 group convolution: p4 feature maps in, p4 feature maps out, with rotated and cycled kernels.

    ``Y[n, o, r] = u[o] + sum_{c, s} X[n, c, s] ⋆ rotate(K[o, c, s - r], r)`` (orientations modulo 4).
    It is one ordinary convolution over ``C_in * 4`` channels with the weight of
    :func:`group_kernels`, and it commutes with :func:`rotate_p4` for any square kernel and
    padding (the same on every side).

    Args:
        input: ``(N, C_in, 4, H, W)``.
        weight: ``(C_out, C_in, 4, k, k)``.
        bias: ``(C_out,)``, shared by the four orientations, or ``None``.
        padding: zero padding per side.
        conv: the ordinary convolution to run (``convlib.functional.conv2d`` by default).

    Returns:
        the output p4 feature map.

    Shapes:
        ``(N, C_in, 4, H, W) -> (N, C_out, 4, H', W')`` with ``H' = H + 2p - k + 1``.

    >>> group_conv2d(torch.zeros(2, 3, 4, 7, 7), torch.zeros(5, 3, 4, 3, 3), padding=1).shape
    torch.Size([2, 5, 4, 7, 7])
    """
    input = _check(input, 5, "input", "group_conv2d", "(N, C_in, 4, H, W)")
    weight = _check(weight, 5, "weight", "group_conv2d", "(C_out, C_in, 4, k, k)")
    if input.shape[1:3] != weight.shape[1:3]:
        raise ValueError(
            f"group_conv2d: input (N, C_in, 4, H, W) and weight (C_out, C_in, 4, k, k) disagree, "
            f"got {tuple(input.shape)} and {tuple(weight.shape)}"
        )
    y = conv(input.flatten(1, 2), group_kernels(weight), _p4_bias(bias), 1, padding)  # (N, C_out * 4, H', W')
    return y.unflatten(1, (weight.shape[0], 4))  # (N, C_out, 4, H', W')


def rotation_pool(input: torch.Tensor, mode: Literal["max", "mean"] = "max") -> torch.Tensor:
    """Pool a p4 feature map over its four orientations: the result no longer cycles under rotation.

    Args:
        input: ``(N, C, 4, H, W)``.
        mode: ``"max"`` or ``"mean"``.

    Returns:
        ``(N, C, H, W)``; rotating the input by a quarter turn only rotates this map.

    >>> rotation_pool(torch.arange(8.0).view(1, 2, 4, 1, 1)).flatten().tolist()  # max of 0..3, of 4..7
    [3.0, 7.0]
    """
    input = _check(input, 5, "input", "rotation_pool", "(N, C, 4, H, W)")
    if mode == "max":
        return input.amax(dim=2)
    if mode == "mean":
        return input.mean(dim=2)
    raise ValueError(f"rotation_pool: mode must be 'max' or 'mean', got {mode!r}")


def _init(weight: torch.Tensor, bias: torch.Tensor, fan_in: int) -> None:
    bound = fan_in**-0.5  # torch's default for Conv2d: kaiming_uniform(a=sqrt(5)) gives U(-1/sqrt(fan_in), ..)
    nn.init.uniform_(weight, -bound, bound)
    nn.init.uniform_(bias, -bound, bound)


class LiftingConv2d(nn.Module):
    """The lifting convolution as a layer: ``(N, C_in, H, W) -> (N, C_out, 4, H', W')``.

    Args:
        in_channels: ``C_in``.
        out_channels: ``C_out``; the layer stores ``C_out * C_in * k * k + C_out`` parameters.
        kernel_size: ``k`` (square).
        padding: zero padding per side.
        conv: the ordinary convolution to run.

    >>> m = LiftingConv2d(1, 4, 5, padding=2)
    >>> m(torch.zeros(1, 1, 8, 8)).shape, sum(p.numel() for p in m.parameters())  # 4*1*25 + 4
    (torch.Size([1, 4, 4, 8, 8]), 104)
    """

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: int, padding: int = 0, *, conv: Conv = functional.conv2d
    ) -> None:
        super().__init__()
        self.padding, self.conv = padding, conv
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.empty(out_channels))
        _init(self.weight, self.bias, in_channels * kernel_size**2)

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        """Lift ``input`` to a p4 feature map."""
        return lifting_conv2d(input, self.weight, self.bias, self.padding, conv=self.conv)

    def extra_repr(self) -> str:
        c_out, c_in, k, _ = self.weight.shape
        return f"{c_in}, {c_out}, kernel_size={k}, padding={self.padding}"


class GroupConv2d(nn.Module):
    """The p4 group convolution as a layer: ``(N, C_in, 4, H, W) -> (N, C_out, 4, H', W')``.

    Args:
        in_channels: ``C_in`` (each with four orientations).
        out_channels: ``C_out``; the layer stores ``C_out * C_in * 4 * k * k + C_out`` parameters.
        kernel_size: ``k`` (square).
        padding: zero padding per side.
        conv: the ordinary convolution to run.

    >>> m = GroupConv2d(4, 8, 3, padding=1)
    >>> m(torch.zeros(1, 4, 4, 7, 7)).shape, sum(p.numel() for p in m.parameters())  # 8*4*4*9 + 8
    (torch.Size([1, 8, 4, 7, 7]), 1160)
    """

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: int, padding: int = 0, *, conv: Conv = functional.conv2d
    ) -> None:
        super().__init__()
        self.padding, self.conv = padding, conv
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels, 4, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.empty(out_channels))
        _init(self.weight, self.bias, in_channels * 4 * kernel_size**2)

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        """Convolve the p4 feature map ``input``."""
        return group_conv2d(input, self.weight, self.bias, self.padding, conv=self.conv)

    def extra_repr(self) -> str:
        c_out, c_in, _, k, _ = self.weight.shape
        return f"{c_in}, {c_out}, kernel_size={k}, padding={self.padding}"


class P4MaxPool2d(nn.Module):
    """Spatial max pooling of every orientation plane: ``(N, C, 4, H, W) -> (N, C, 4, H/k, W/k)``.

    It commutes with :func:`rotate_p4` when ``H`` and ``W`` are multiples of ``kernel_size``: the
    pooling windows then tile the map, and a quarter turn maps windows onto windows.

    Args:
        kernel_size: window size and stride.

    >>> P4MaxPool2d(2)(torch.zeros(1, 3, 4, 8, 8)).shape
    torch.Size([1, 3, 4, 4, 4])
    """

    def __init__(self, kernel_size: int) -> None:
        super().__init__()
        self.kernel_size = kernel_size

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        """Pool each plane."""
        input = _check(input, 5, "input", "P4MaxPool2d", "(N, C, 4, H, W)")
        y = functional.max_pool2d(input.flatten(1, 2), self.kernel_size)  # (N, C * 4, H/k, W/k)
        assert isinstance(y, torch.Tensor)  # no return_indices, so no (values, indices) pair
        return y.unflatten(1, input.shape[1:3])  # (N, C, 4, H/k, W/k)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}"


class RotationPool(nn.Module):
    """:func:`rotation_pool` as a layer: ``(N, C, 4, H, W) -> (N, C, H, W)``.

    >>> RotationPool("mean")(torch.ones(1, 2, 4, 3, 3)).shape
    torch.Size([1, 2, 3, 3])
    """

    def __init__(self, mode: Literal["max", "mean"] = "max") -> None:
        super().__init__()
        self.mode: Literal["max", "mean"] = mode

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        """Pool over the orientations."""
        return rotation_pool(input, self.mode)

    def extra_repr(self) -> str:
        return f"mode={self.mode!r}"
