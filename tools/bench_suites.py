"""The benchmark's timed suites (``tools/bench.py``): 2-D layers, 1-D long kernels, the kernel sweep, grouped layers.

Each suite builds seeded tensors for its shapes, one zero-argument call per candidate (torch, every
``method=`` of convlib that applies, and the peers scipy, fft-conv-pytorch and julius where they
apply), and times them with :func:`tools.timing.interleaved`. Every shape is padded ``k // 2`` ("same"
for odd ``k``), stride 1. The fifth suite, ``method="auto"`` 's regret, is in :mod:`tools.costmodel`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from convlib import functional as cf
from convlib.algorithms import registry
from convlib.algorithms.winograd import supports
from convlib.shapes import conv_output_size
from tools.timing import interleaved

Shape = tuple[int, int, int, int, int]  # (N, C_in, size, C_out, k): H = W = size in 2-D, L = size in 1-D
SHAPES: dict[str, Shape] = {
    "S1": (1, 3, 128, 16, 3),
    "S2": (32, 16, 32, 32, 3),
    "S3": (8, 64, 56, 64, 3),
    "S4": (1, 1, 256, 1, 31),
    "S5": (4, 8, 128, 8, 15),
}
LONG: dict[str, Shape] = {"L1": (8, 16, 8192, 32, 512), "L2": (4, 8, 16384, 8, 2048)}
GROUPED: dict[str, tuple[Shape, int]] = {  # (shape, groups): one 3x3 block of a mobile network, 4 ways
    "full 3x3": ((8, 64, 56, 64, 3), 1),
    "grouped 3x3, g=8": ((8, 64, 56, 64, 3), 8),
    "depthwise 3x3": ((8, 64, 56, 64, 3), 64),
    "pointwise 1x1": ((8, 64, 56, 64, 1), 1),
}
QUICK = {"shapes": {"Q1": (2, 3, 12, 4, 3), "Q2": (1, 1, 16, 1, 5)}, "long": {"QL": (1, 2, 64, 2, 9)}}
SWEEP_SIZE, SWEEP_KERNELS = 256, tuple(range(3, 34, 4))
PEERS = ("fft-conv-pytorch", "julius")


@dataclass
class Row:
    """A candidate's best times on one shape (``fwdbwd`` is None where it was not measured)."""

    shape: str
    dims: Shape
    method: str
    fwd: float
    fwdbwd: float | None
    error: float | None = None  # largest |difference| from the float64 reference (long shapes)


def output_size(dims: Shape, stride: int = 1) -> int:
    """The output's size along each spatial axis of a shape padded ``k // 2`` (:func:`convlib.shapes.conv_output_size`).

    >>> output_size((1, 1, 16, 1, 4), stride=2)  # (16 + 2*2 - 3 - 1) // 2 + 1: even k grows by one, then strides
    9
    """
    size, k = dims[2], dims[4]
    return conv_output_size(size, k, stride=stride, padding=k // 2)


def flops(dims: Shape, nd: int = 2, groups: int = 1) -> int:
    """The direct method's forward flops: 2 per multiply-add; padding k//2 keeps the size (odd k)."""
    n, c, _, c_out, k = dims
    return 2 * n * c_out * (c // groups) * output_size(dims) ** nd * k**nd


def tensors(dims: Shape, nd: int, groups: int = 1, grad: bool = False) -> tuple[torch.Tensor, ...]:
    """Seeded input, weight, bias and output gradient for one shape."""
    n, c, size, c_out, k = dims
    gen = torch.Generator().manual_seed(0)
    out = output_size(dims)
    shapes = ((n, c, *[size] * nd), (c_out, c // groups, *[k] * nd), (c_out,), (n, c_out, *[out] * nd))
    x, w, b, g = (torch.randn(*s, generator=gen) for s in shapes)
    return x.requires_grad_(grad), w.requires_grad_(grad), b.requires_grad_(grad), g


def _candidates(dims: Shape, backward: bool) -> dict[str, Callable[[], object]]:
    """torch, every applicable convlib method and the applicable peers on one 2-D shape."""
    k = dims[4]
    x, w, b, g = tensors(dims, 2, grad=backward)

    def run(conv: Callable[..., torch.Tensor]) -> Callable[[], object]:
        if backward:
            return lambda: torch.autograd.grad(conv(x, w, b, padding=k // 2), (x, w, b), g)
        return lambda: conv(x, w, b, padding=k // 2)

    out: dict[str, Callable[[], object]] = {"torch": run(F.conv2d)}
    for method in registry.METHODS:
        if method != "winograd" or supports((k, k), (1, 1), (1, 1)):
            out[method] = run(lambda *a, m=method, **kw: cf.conv2d(*a, **kw, method=m))
    if k >= 7 and not backward:  # the peer is an FFT convolution: compare where FFT is the right tool
        out["fft-conv-pytorch"] = run(_fft_conv_pytorch())
    if dims[0] == dims[1] == dims[3] == 1 and not backward:
        out["scipy"] = _scipy(x[0, 0], w[0, 0])
    return out


def _fft_conv_pytorch() -> Callable[..., torch.Tensor]:
    from fft_conv_pytorch import fft_conv

    return lambda x, w, b, padding: fft_conv(x, w, b, padding=padding)


def _julius() -> Callable[..., torch.Tensor]:
    from julius.fftconv import fft_conv1d

    return lambda x, w, b, padding: fft_conv1d(x, w, b, padding=padding)


def _scipy(x: torch.Tensor, w: torch.Tensor) -> Callable[[], object]:
    """scipy's FFT convolution, as a correlation: flip the kernel; ``"same"`` is padding ``k//2``."""
    import scipy.fft
    import scipy.signal

    xn, wn = x.detach().numpy(), w.detach().numpy()[::-1, ::-1].copy()

    def fn() -> object:
        with scipy.fft.set_workers(torch.get_num_threads()):
            return scipy.signal.fftconvolve(xn, wn, mode="same")

    return fn


def measure(shapes: dict[str, Shape], rounds: int, min_round: float) -> list[Row]:
    """One row per (shape, candidate): forward and forward+backward seconds."""
    rows = []
    for label, shape in shapes.items():
        forward = interleaved(_candidates(shape, backward=False), rounds, min_round)
        both = interleaved(_candidates(shape, backward=True), rounds, min_round)
        rows += [Row(label, shape, name, t, both.get(name)) for name, t in forward.items()]
    return rows


def measure_long(shapes: dict[str, Shape], rounds: int, min_round: float) -> list[Row]:
    """1-D long kernels: torch, convlib's fft and auto, and the two peers, with each one's largest error."""
    rows = []
    for label, dims in shapes.items():
        x, w, b, _ = tensors(dims, 1)
        pad = dims[4] // 2
        convs: dict[str, Callable[..., torch.Tensor]] = {
            "torch": F.conv1d,
            "fft": lambda *a, **kw: cf.conv1d(*a, **kw, method="fft"),
            "auto": lambda *a, **kw: cf.conv1d(*a, **kw, method="auto"),
            "fft-conv-pytorch": _fft_conv_pytorch(),
            "julius": _julius(),
        }
        exact = _exact_conv1d(x, w, b, pad)
        errors = {
            name: (conv(x, w, b, padding=pad).double() - exact).abs().max().item() for name, conv in convs.items()
        }
        calls = {name: functools.partial(conv, x, w, b, padding=pad) for name, conv in convs.items()}
        times = interleaved(calls, rounds, min_round)
        rows += [Row(label, dims, name, times[name], None, errors[name]) for name in convs]
    return rows


def _exact_conv1d(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor, pad: int) -> torch.Tensor:
    """``F.conv1d`` in float64 by scipy's FFT convolution: the reference for every candidate's error.

    torch's float64 ``conv1d`` on CPU builds a patch matrix (8.6 GB for L2); scipy convolves every
    (image, output channel, input channel) triple at once along the last axis, and sums over inputs.
    """
    import scipy.signal

    xs = np.pad(x.double().numpy(), ((0, 0), (0, 0), (pad, pad)))[:, None]  # (N, 1, C_in, L + 2p)
    ws = w.double().numpy()[None, :, :, ::-1]  # (1, C_out, C_in, k), flipped: a correlation
    y = scipy.signal.fftconvolve(xs, ws, mode="valid", axes=-1).sum(axis=2)  # (N, C_out, L_out)
    return torch.from_numpy(y) + b.double()[:, None]


def sweep(size: int, kernels: Sequence[int], rounds: int, min_round: float) -> dict[str, list[float]]:
    """Forward seconds of torch, fft, im2col and scipy on one ``size x size`` channel, per kernel size."""
    times: dict[str, list[float]] = {"torch": [], "fft": [], "im2col": [], "scipy": []}
    for k in kernels:
        cands = _candidates((1, 1, size, 1, k), backward=False)
        best = interleaved({name: cands[name] for name in times}, rounds, min_round)
        for name in times:
            times[name].append(best[name])
    return times


def measure_grouped(layers: dict[str, tuple[Shape, int]], rounds: int, min_round: float) -> list[dict]:
    """torch's and convlib's forward time per layer, with multiply-adds and bytes the layer must move."""
    out = []
    convs: dict[str, Callable[..., torch.Tensor]] = {"torch": F.conv2d, "auto": cf.conv2d}
    for label, (dims, groups) in layers.items():
        x, w, b, _ = tensors(dims, 2, groups)
        pad = dims[4] // 2
        calls = {name: functools.partial(conv, x, w, b, padding=pad, groups=groups) for name, conv in convs.items()}
        times = interleaved(calls, rounds, min_round)
        macs = flops(dims, 2, groups) // 2
        y = dims[0] * dims[3] * output_size(dims) ** 2  # (N, C_out, H_out, W_out)
        moved = 4 * (x.numel() + w.numel() + y)  # read x, w; write y
        out.append(
            {
                "layer": label,
                "dims": dims,
                "groups": groups,
                "macs": macs,
                "bytes": moved,
                "torch_ms": 1e3 * times["torch"],
                "auto_ms": 1e3 * times["auto"],
            }
        )
    return out


def crossover(kernels: Sequence[int], times: dict[str, list[float]], method: str = "fft") -> int | None:
    """The smallest kernel size from which ``method`` stays faster than torch, or ``None``.

    Args:
        kernels: the kernel sizes swept, ascending.
        times: name -> seconds per kernel size; needs ``"torch"`` and ``method``.
        method: the candidate to compare with torch.

    Returns:
        the crossover kernel size.

    Shapes:
        ``len(times[name]) == len(kernels)``.
    """
    faster = [t < ref for t, ref in zip(times[method], times["torch"])]
    for i in range(len(kernels)):
        if all(faster[i:]):
            return kernels[i]
    return None
