"""Chapter 14's rotation experiment: a p4 network, an ordinary CNN of the same size, and rotated digits.

:func:`p4_cnn` is built from :mod:`convlib.groups` (a lifting convolution, two group convolutions, a
pool over the four orientations and a global pool), so its logits do not change when the input
turns by a multiple of 90°. :func:`plain_cnn` has the same layout with ordinary convolutions and
twice the channels, which gives it about the same number of parameters. Both start with a 2×2
average pool (28×28 digits become 14×14), which commutes with quarter turns of an even-sized image
and quarters the cost. :func:`rotate_digits` turns images by any angle with bilinear interpolation
in float64 (``scipy.ndimage.rotate``, ``order=1``).
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage
from torch import nn

import convlib.nn as cnn
from convlib import functional
from convlib.groups import Conv, GroupConv2d, LiftingConv2d, P4MaxPool2d, RotationPool


def p4_cnn(
    channels: tuple[int, int, int] = (4, 8, 16), classes: int = 10, *, conv: Conv = functional.conv2d
) -> nn.Sequential:
    """A p4-equivariant CNN with a rotation-invariant output, for (N, 1, 28, 28) digits.

    Args:
        channels: ``(c1, c2, c3)``, channels of the lifting and the two group convolutions (each
            channel has four orientations).
        classes: number of outputs.
        conv: the ordinary convolution the p4 layers run (convlib's by default; torch's
            ``F.conv2d`` computes the same and trains faster).

    Returns:
        ``nn.Sequential`` of downsample, lift (5×5), bn1, relu1, pool1, gconv2 (3×3), bn2, relu2,
        gconv3 (3×3), bn3, relu3, rotpool, gpool, flatten, fc. ``BatchNorm3d`` normalises each channel
        over its four orientations together, so it commutes with rotations too.

    Shapes:
        (N, 1, 28, 28) -> (N, c1, 4, 14, 14) -pool1-> (N, c1, 4, 7, 7) -> (N, c3, 4, 7, 7)
        -rotpool-> (N, c3, 7, 7) -gpool-> (N, c3) -> (N, classes).

    >>> sum(p.numel() for p in p4_cnn().parameters())  # 4*25+4, 8*4*4*9+8, 16*8*4*9+16, bn 2*(4+8+16), 16*10+10
    6114
    """
    c1, c2, c3 = channels
    return nn.Sequential(
        OrderedDict(
            downsample=nn.AvgPool2d(2),
            lift=LiftingConv2d(1, c1, 5, padding=2, conv=conv),
            bn1=nn.BatchNorm3d(c1),
            relu1=nn.ReLU(),
            pool1=P4MaxPool2d(2),
            gconv2=GroupConv2d(c1, c2, 3, padding=1, conv=conv),
            bn2=nn.BatchNorm3d(c2),
            relu2=nn.ReLU(),
            gconv3=GroupConv2d(c2, c3, 3, padding=1, conv=conv),
            bn3=nn.BatchNorm3d(c3),
            relu3=nn.ReLU(),
            rotpool=RotationPool("max"),
            gpool=nn.AdaptiveMaxPool2d(1),
            flatten=nn.Flatten(),
            fc=nn.Linear(c3, classes),
        )
    )


def plain_cnn(
    channels: tuple[int, int, int] = (8, 16, 32),
    classes: int = 10,
    *,
    downsample: bool = True,
    pool2: bool = False,
    conv: type[nn.Conv2d] = cnn.Conv2d,
    pool: type[nn.MaxPool2d] = cnn.MaxPool2d,
) -> nn.Sequential:
    """The ordinary CNN with :func:`p4_cnn`'s layout: three convolutions, BatchNorm, a global max pool.

    With twice the p4 network's channels it has about the same parameters: a group convolution
    from ``c`` to ``c'`` channels stores ``4 c c' k²`` weights, an ordinary one from ``2c`` to ``2c'``
    stores as many.

    Args:
        channels: ``(c1, c2, c3)``.
        classes: number of outputs.
        downsample: start with a 2×2 average pool (28×28 -> 14×14), as :func:`p4_cnn` does.
        pool2: max pool after ``conv2`` too (7×7 -> 3×3), which makes ``conv3`` about five times cheaper.
        conv: the convolution class (``convlib.nn.Conv2d`` or ``torch.nn.Conv2d``).
        pool: the pooling class (``convlib.nn.MaxPool2d`` or ``torch.nn.MaxPool2d``).

    Returns:
        ``nn.Sequential`` of [downsample], conv1 (5×5), bn1, relu1, pool1, conv2 (3×3), bn2, relu2,
        [pool2], conv3 (3×3), bn3, relu3, gpool, flatten, fc.

    Shapes:
        (N, 1, 28, 28) -> (N, c1, 14, 14) -pool1-> (N, c1, 7, 7) -> (N, c3, 7, 7) -> (N, c3) -> (N, classes),
        each spatial size doubled without ``downsample``.

    >>> sum(p.numel() for p in plain_cnn().parameters())  # 8*25+8, 16*8*9+16, 32*16*9+32, bn 2*56, 32*10+10
    6458
    """
    c1, c2, c3 = channels
    layers: OrderedDict[str, nn.Module] = OrderedDict()
    if downsample:
        layers["downsample"] = nn.AvgPool2d(2)
    layers.update(
        conv1=conv(1, c1, 5, padding=2),
        bn1=nn.BatchNorm2d(c1),
        relu1=nn.ReLU(),
        pool1=pool(2),
        conv2=conv(c1, c2, 3, padding=1),
        bn2=nn.BatchNorm2d(c2),
        relu2=nn.ReLU(),
    )
    if pool2:
        layers["pool2"] = pool(2)
    layers.update(
        conv3=conv(c2, c3, 3, padding=1),
        bn3=nn.BatchNorm2d(c3),
        relu3=nn.ReLU(),
        gpool=nn.AdaptiveMaxPool2d(1),
        flatten=nn.Flatten(),
        fc=nn.Linear(c3, classes),
    )
    return nn.Sequential(layers)


def rotate_digits(images: torch.Tensor, degrees: float) -> torch.Tensor:
    """Rotate images counterclockwise (as displayed) about their centre, bilinearly, in float64.

    ``scipy.ndimage.rotate`` with ``order=1`` (bilinear), ``reshape=False`` (same size) and zeros
    outside. It runs in float64 with plain C loops, so it gives the same pixels on every CPU; a
    multiple of 90° reproduces ``torch.rot90`` to rounding.

    Args:
        images: ``(..., H, W)``, any float dtype.
        degrees: the angle, counterclockwise.

    Returns:
        the rotated images, same shape and dtype.

    Shapes:
        ``(..., H, W) -> (..., H, W)``.

    >>> x = torch.zeros(1, 5, 5, dtype=torch.float64); x[0, 0, 4] = 1.0  # top-right corner
    >>> rotate_digits(x, 90.0)[0].nonzero().tolist()  # a quarter turn takes it to the top left
    [[0, 0]]
    """
    array = images.detach().cpu().numpy().astype(np.float64)
    turned = ndimage.rotate(array, degrees, axes=(-1, -2), reshape=False, order=1, mode="constant", cval=0.0)
    return torch.from_numpy(np.ascontiguousarray(turned)).to(images.dtype)


def fast(model: nn.Sequential) -> nn.Sequential:
    """Make ``model``'s p4 layers run torch's ``F.conv2d`` (the same sums, computed faster) for training.

    Args:
        model: a network from :func:`p4_cnn`; changed in place.

    Returns:
        the same model.

    >>> fast(p4_cnn()).lift.conv is F.conv2d
    True
    """
    for layer in model.modules():
        if isinstance(layer, LiftingConv2d | GroupConv2d):
            layer.conv = F.conv2d
    return model
