"""Size arithmetic: output sizes of convolution, transposed convolution and pooling.

All formulas use this course's conventions: ``padding`` is per side, ``dilation=1`` is a contiguous
kernel, and a non-integer quotient is floored (as torch does), or ceiled for ``ceil_mode`` pooling.
Receptive fields, which chain these sizes through a network, are in :mod:`convlib.receptive_field`.
"""

from __future__ import annotations

from convlib.geometry import non_negative, ntuple, positive


def _check(op: str, kernel_size: int, stride: int, padding: int, dilation: int) -> None:
    """Reject impossible hyper-parameters before the arithmetic silently returns nonsense."""
    positive(ntuple(kernel_size, 1, "kernel_size", op), "kernel_size", op)
    positive(ntuple(stride, 1, "stride", op), "stride", op)
    non_negative(ntuple(padding, 1, "padding", op), "padding", op)
    positive(ntuple(dilation, 1, "dilation", op), "dilation", op)


def conv_output_size(size: int, kernel_size: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> int:
    """Output length of a convolution along one spatial axis.

    Args:
        size: input length ``i``.
        kernel_size: kernel length ``k``.
        stride: step ``s`` between output positions.
        padding: zeros added on *each* side, ``p``.
        dilation: spacing ``d`` between kernel taps; 1 is contiguous.

    Returns:
        ``floor((i + 2p - d(k-1) - 1) / s) + 1``. Zero or negative means the kernel does not fit.

    >>> conv_output_size(128, 5)  # 128 - 5 + 1
    124
    >>> conv_output_size(7, 3, stride=2, padding=1)  # floor((7 + 2 - 2 - 1) / 2) + 1
    4
    """
    _check("conv_output_size", kernel_size, stride, padding, dilation)
    return conv_size(size, kernel_size, stride, padding, dilation)


def conv_size(size: int, kernel_size: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> int:
    """:func:`conv_output_size` without the argument checks, for callers that checked them already.

    The ops call this once per axis on every call, where the checks would cost more than the
    arithmetic; everyone else should call :func:`conv_output_size`.

    Args:
        size, kernel_size, stride, padding, dilation: as :func:`conv_output_size`, already valid.

    Returns:
        ``floor((i + 2p - d(k-1) - 1) / s) + 1``.

    >>> conv_size(7, 3, stride=2, padding=1)
    4
    """
    return (size + 2 * padding - dilation * (kernel_size - 1) - 1) // stride + 1


def conv_transpose_output_size(
    size: int,
    kernel_size: int,
    stride: int = 1,
    padding: int = 0,
    output_padding: int = 0,
    dilation: int = 1,
) -> int:
    """Output length of a transposed convolution along one axis, as ``torch.nn.ConvTranspose2d``.

    ``padding`` is the *direct* convolution's padding (not Dumoulin & Visin's ``p'``), and
    ``output_padding`` picks one of the ``stride`` input sizes that the direct convolution maps to
    the same output size. torch accepts ``output_padding < max(stride, dilation)``, and so does this.

    Args:
        size: input length.
        kernel_size: kernel length.
        stride: stride of the direct convolution.
        padding: per-side padding of the direct convolution.
        output_padding: extra length added on one side, ``0 <= output_padding < max(stride, dilation)``.
        dilation: kernel dilation.

    Returns:
        ``(i - 1)s - 2p + d(k-1) + output_padding + 1``.

    >>> conv_transpose_output_size(4, 3, stride=2, padding=1, output_padding=1)  # 6 - 2 + 2 + 1 + 1
    8
    """
    _check("conv_transpose_output_size", kernel_size, stride, padding, dilation)
    if not 0 <= output_padding < max(stride, dilation):  # torch's rule for ConvTranspose
        raise ValueError(
            f"conv_transpose_output_size: output_padding must be >= 0 and smaller than "
            f"stride or dilation, got output_padding={output_padding}, stride={stride}, "
            f"dilation={dilation}"
        )
    return conv_transpose_size(size, kernel_size, stride, padding, output_padding, dilation)


def conv_transpose_size(
    size: int, kernel_size: int, stride: int = 1, padding: int = 0, output_padding: int = 0, dilation: int = 1
) -> int:
    """:func:`conv_transpose_output_size` without the argument checks, as :func:`conv_size` is to its op.

    Args:
        size, kernel_size, stride, padding, output_padding, dilation: as :func:`conv_transpose_output_size`.

    Returns:
        ``(i - 1)s - 2p + d(k-1) + output_padding + 1``; zero or negative means no output.

    >>> conv_transpose_size(4, 3, stride=2, padding=1, output_padding=1)
    8
    """
    return (size - 1) * stride - 2 * padding + dilation * (kernel_size - 1) + output_padding + 1


def pool_output_size(
    size: int,
    kernel_size: int,
    stride: int | None = None,
    padding: int = 0,
    dilation: int = 1,
    ceil_mode: bool = False,
) -> int:
    """Output length of max or average pooling along one axis, as torch computes it.

    With ``ceil_mode`` the quotient is rounded up, but the last window must still start inside
    the input or the left padding (torch drops a window that would start in the right padding).

    Args:
        size: input length.
        kernel_size: window length.
        stride: step between windows; ``None`` means ``kernel_size`` (torch's default).
        padding: implicit padding on each side (``-inf`` for max, zeros for average).
        dilation: spacing between window taps (max pooling only).
        ceil_mode: round up instead of down.

    Returns:
        the number of windows.

    >>> pool_output_size(7, 2)  # floor((7 - 2) / 2) + 1
    3
    >>> pool_output_size(7, 2, ceil_mode=True)  # ceil((7 - 2) / 2) + 1
    4
    """
    stride = kernel_size if stride is None else stride
    _check("pool_output_size", kernel_size, stride, padding, dilation)
    span = size + 2 * padding - dilation * (kernel_size - 1) - 1
    out = (-(-span // stride) if ceil_mode else span // stride) + 1
    if ceil_mode and (out - 1) * stride >= size + padding:
        out -= 1
    return out
