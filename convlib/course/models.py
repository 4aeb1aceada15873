"""The small digit classifiers of Part III, built from convlib's layers or from torch's.

:func:`lenet` is a LeNet-5-style network (LeCun et al. 1998, with ReLU and max pooling): two 5×5
convolutions, each followed by a ReLU and a 2×2 max pool, then three fully connected layers. Its
``conv`` and ``pool`` arguments choose the layer classes, so the same seed builds the same weights
with :class:`convlib.nn.Conv2d` (convlib's hand-written backward) or :class:`torch.nn.Conv2d`.
:func:`mlp` has no convolution at all, and :func:`global_pool_cnn` ends in a global max pool, so its output
does not depend on where in the image a pattern is. Chapter 09 trains them and chapter 10 looks inside.
"""

from __future__ import annotations

from collections import OrderedDict

from torch import nn

import convlib.nn as cnn


def lenet(
    conv: type[nn.Conv2d] = cnn.Conv2d, pool: type[nn.MaxPool2d] = cnn.MaxPool2d, classes: int = 10
) -> nn.Sequential:
    """LeNet-5 with ReLU and max pooling, for (N, 1, 28, 28) digits.

    Args:
        conv: the convolution class (``convlib.nn.Conv2d`` or ``torch.nn.Conv2d``).
        pool: the pooling class (``convlib.nn.MaxPool2d`` or ``torch.nn.MaxPool2d``).
        classes: number of outputs.

    Returns:
        ``nn.Sequential`` whose children are named ``conv1 relu1 pool1 conv2 relu2 pool2 flatten fc1
        relu3 fc2 relu4 fc3``; weights are drawn from torch's global generator, as torch's layers do.

    Shapes:
        (N, 1, 28, 28) -conv1-> (N, 6, 28, 28) -pool1-> (N, 6, 14, 14) -conv2-> (N, 16, 10, 10)
        -pool2-> (N, 16, 5, 5) -flatten-> (N, 400) -> (N, 120) -> (N, 84) -> (N, classes).

    >>> sum(p.numel() for p in lenet().parameters())  # 156 + 2,416 + 48,120 + 10,164 + 850
    61706
    """
    return nn.Sequential(
        OrderedDict(
            conv1=conv(1, 6, 5, padding=2),
            relu1=nn.ReLU(),
            pool1=pool(2),
            conv2=conv(6, 16, 5),
            relu2=nn.ReLU(),
            pool2=pool(2),
            flatten=nn.Flatten(),
            fc1=nn.Linear(16 * 5 * 5, 120),
            relu3=nn.ReLU(),
            fc2=nn.Linear(120, 84),
            relu4=nn.ReLU(),
            fc3=nn.Linear(84, classes),
        )
    )


def mlp(hidden: int = 77, pixels: int = 28 * 28, classes: int = 10) -> nn.Sequential:
    """A one-hidden-layer perceptron; with the defaults it has about as many parameters as :func:`lenet`.

    Args:
        hidden: units of the hidden layer.
        pixels: inputs per image (H * W).
        classes: number of outputs.

    Returns:
        ``nn.Sequential(flatten, fc1, relu1, fc2)``.

    Shapes:
        (N, 1, H, W) -> (N, H*W) -> (N, hidden) -> (N, classes).

    >>> sum(p.numel() for p in mlp().parameters())  # 785 * 77 + 78 * 10
    61225
    """
    return nn.Sequential(
        OrderedDict(
            flatten=nn.Flatten(), fc1=nn.Linear(pixels, hidden), relu1=nn.ReLU(), fc2=nn.Linear(hidden, classes)
        )
    )


def global_pool_cnn(
    channels: int = 16, conv: type[nn.Conv2d] = cnn.Conv2d, pool: type[nn.MaxPool2d] = cnn.MaxPool2d, classes: int = 10
) -> nn.Sequential:
    """Three 5×5 convolutions and a global max pool: a classifier for digits at any position.

    Every layer before the global pool commutes with translations (up to the borders and the 2×2 pools'
    grid), and the global maximum forgets where a feature was found.

    Args:
        channels: channels of the last convolution (the first two have a quarter and a half of it).
        conv: the convolution class.
        pool: the pooling class for the two 2×2 max pools.
        classes: number of outputs.

    Returns:
        ``nn.Sequential`` of conv1 relu1 pool1 conv2 relu2 pool2 conv3 relu3 gmp flatten fc.

    Shapes:
        (N, 1, H, W) -> ... -> (N, channels, H/4, W/4) -gmp-> (N, channels, 1, 1) -> (N, classes).

    >>> import torch; global_pool_cnn()(torch.zeros(2, 1, 28, 28)).shape
    torch.Size([2, 10])
    """
    c1, c2 = max(channels // 4, 1), max(channels // 2, 1)
    return nn.Sequential(
        OrderedDict(
            conv1=conv(1, c1, 5, padding=2),
            relu1=nn.ReLU(),
            pool1=pool(2),
            conv2=conv(c1, c2, 5, padding=2),
            relu2=nn.ReLU(),
            pool2=pool(2),
            conv3=conv(c2, channels, 5, padding=2),
            relu3=nn.ReLU(),
            gmp=nn.AdaptiveMaxPool2d(1),
            flatten=nn.Flatten(),
            fc=nn.Linear(channels, classes),
        )
    )
