"""Residual blocks and the deep networks of chapter 12, built from convlib's layers.

He et al., "Deep Residual Learning for Image Recognition" (CVPR 2016), add an identity *shortcut*
around every pair of convolutions, ``y = relu(F(x) + x)``, so that a block which has nothing to add
only needs ``F = 0``. :class:`BasicBlock` is their two-3×3 block, :class:`Bottleneck` the
1×1–3×3–1×1 block of their deeper networks; where a block changes the resolution or the channel
count, the shortcut is a strided 1×1 convolution (a *projection*) followed by BatchNorm. With
``residual=False`` a block keeps the same layers and drops the shortcut, which is the *plain*
network He et al. compare with. Both blocks list their paths with ``paths()``, so that
:func:`convlib.receptive_field.receptive_field` can read them.

:func:`deep_net` is He et al.'s network for CIFAR-10 (three stages of basic blocks), plain or
residual, with or without BatchNorm, for the depth experiments; :func:`small_resnet` is a two-stage
ResNet for 28×28 digits with a global-max-pooling head, to set beside chapter 09's networks. The
``conv`` argument picks the convolution class, as in ``convlib.course.models``.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

import convlib.nn as cnn
from convlib.normalization import BatchNorm2d


def _norm(channels: int, norm: bool) -> nn.Module:
    return BatchNorm2d(channels) if norm else nn.Identity()


def _check(name: str, value: object, smallest: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < smallest:
        raise ValueError(f"{name} must be an int >= {smallest}, got {value!r}")
    return value


class BasicBlock(nn.Module):
    """Two 3×3 convolutions, each with BatchNorm, and a shortcut: ``relu(F(x) + S(x))``.

    ``F = conv1 (stride) → bn1 → relu → conv2 → bn2``. ``S`` is the identity when the shape is kept,
    a projection (1×1 convolution with the block's stride, then BatchNorm) when it changes, and
    absent when ``residual=False``.

    Args:
        in_channels: channels of the input.
        out_channels: channels of the output.
        stride: stride of ``conv1`` (and of the projection); 2 halves the resolution.
        residual: add the shortcut; ``False`` gives the plain block with the same convolutions.
        norm: put a BatchNorm after each convolution; without it the convolutions have biases.
        conv: the convolution class (``convlib.nn.Conv2d`` or ``torch.nn.Conv2d``).

    Shapes:
        ``(N, in_channels, H, W) -> (N, out_channels, ⌊(H - 1)/stride⌋ + 1, ⌊(W - 1)/stride⌋ + 1)``.

    >>> block = BasicBlock(8, 16, stride=2)
    >>> block(torch.zeros(1, 8, 14, 14)).shape, type(block.shortcut[0]).__name__  # projection shortcut
    (torch.Size([1, 16, 7, 7]), 'Conv2d')
    >>> sum(p.numel() for p in block.parameters())  # 3*3*8*16 + 3*3*16*16 + 8*16, and (16 + 16) per BatchNorm
    3680
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        stride: int = 1,
        *,
        residual: bool = True,
        norm: bool = True,
        conv: type[nn.Conv2d] = cnn.Conv2d,
    ) -> None:
        super().__init__()
        _check("BasicBlock: stride", stride, 1)
        self.conv1 = conv(in_channels, out_channels, 3, stride=stride, padding=1, bias=not norm)
        self.bn1 = _norm(out_channels, norm)
        self.relu1 = nn.ReLU()
        self.conv2 = conv(out_channels, out_channels, 3, padding=1, bias=not norm)
        self.bn2 = _norm(out_channels, norm)
        self.shortcut = _shortcut(in_channels, out_channels, stride, residual, norm, conv)
        self.relu2 = nn.ReLU()

    def residual_path(self) -> nn.Sequential:
        """``F``, the path through the convolutions (its modules are the block's own)."""
        return nn.Sequential(self.conv1, self.bn1, self.relu1, self.conv2, self.bn2)

    def paths(self) -> list[nn.Sequential]:
        """The paths whose outputs are added: ``F`` and, if residual, the shortcut."""
        return [self.residual_path()] + ([] if self.shortcut is None else [nn.Sequential(self.shortcut)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``relu(F(x) + S(x))``, or ``relu(F(x))`` for a plain block."""
        out = self.bn2(self.conv2(self.relu1(self.bn1(self.conv1(x)))))  # (N, C_out, H', W')
        if self.shortcut is not None:
            out = out + self.shortcut(x)
        return self.relu2(out)


class Bottleneck(nn.Module):
    """1×1 (reduce) → 3×3 → 1×1 (expand), each with BatchNorm, and a shortcut: ``relu(F(x) + S(x))``.

    The 3×3 convolution works on ``width`` channels, usually a quarter of ``out_channels``, so that
    the block costs about as much as a basic block on ``width`` channels while its input and output
    have four times as many. The stride sits on the 3×3 convolution, as in torchvision's ResNet.

    Args:
        in_channels: channels of the input.
        width: channels of the 3×3 convolution.
        out_channels: channels of the output (He et al.: ``4 * width``).
        stride: stride of the 3×3 convolution and of the projection.
        residual: add the shortcut.
        norm: put a BatchNorm after each convolution.
        conv: the convolution class.

    Shapes:
        ``(N, in_channels, H, W) -> (N, out_channels, ⌊(H - 1)/stride⌋ + 1, ⌊(W - 1)/stride⌋ + 1)``.

    >>> block = Bottleneck(64, 16, 64)  # shape kept: identity shortcut
    >>> block(torch.zeros(1, 64, 7, 7)).shape, block.shortcut
    (torch.Size([1, 64, 7, 7]), Identity())
    >>> sum(m.weight.numel() for m in (block.conv1, block.conv2, block.conv3))  # 64*16 + 9*16*16 + 16*64
    4352
    """

    def __init__(
        self,
        in_channels: int,
        width: int,
        out_channels: int,
        stride: int = 1,
        *,
        residual: bool = True,
        norm: bool = True,
        conv: type[nn.Conv2d] = cnn.Conv2d,
    ) -> None:
        super().__init__()
        _check("Bottleneck: stride", stride, 1)
        self.conv1 = conv(in_channels, width, 1, bias=not norm)
        self.bn1 = _norm(width, norm)
        self.relu1 = nn.ReLU()
        self.conv2 = conv(width, width, 3, stride=stride, padding=1, bias=not norm)
        self.bn2 = _norm(width, norm)
        self.relu2 = nn.ReLU()
        self.conv3 = conv(width, out_channels, 1, bias=not norm)
        self.bn3 = _norm(out_channels, norm)
        self.shortcut = _shortcut(in_channels, out_channels, stride, residual, norm, conv)
        self.relu3 = nn.ReLU()

    def residual_path(self) -> nn.Sequential:
        """``F``, the path through the convolutions (its modules are the block's own)."""
        return nn.Sequential(self.conv1, self.bn1, self.relu1, self.conv2, self.bn2, self.relu2, self.conv3, self.bn3)

    def paths(self) -> list[nn.Sequential]:
        """The paths whose outputs are added: ``F`` and, if residual, the shortcut."""
        return [self.residual_path()] + ([] if self.shortcut is None else [nn.Sequential(self.shortcut)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``relu(F(x) + S(x))``, or ``relu(F(x))`` for a plain block."""
        out = self.residual_path()(x)  # (N, out_channels, H', W')
        if self.shortcut is not None:
            out = out + self.shortcut(x)
        return self.relu3(out)


def _shortcut(
    in_channels: int, out_channels: int, stride: int, residual: bool, norm: bool, conv: type[nn.Conv2d]
) -> nn.Module | None:
    """Identity if the shape is kept, else a strided 1×1 projection (He et al.'s option B); None if plain."""
    if not residual:
        return None
    if stride == 1 and in_channels == out_channels:
        return nn.Identity()
    return nn.Sequential(conv(in_channels, out_channels, 1, stride=stride, bias=not norm), _norm(out_channels, norm))


def _head(channels: int, classes: int, pool: type[nn.Module] = nn.AdaptiveAvgPool2d) -> list[tuple[str, nn.Module]]:
    return [("pool", pool(1)), ("flatten", nn.Flatten()), ("fc", nn.Linear(channels, classes))]


def deep_net(
    layers: int,
    channels: int = 8,
    *,
    residual: bool,
    norm: bool = True,
    conv: type[nn.Conv2d] = cnn.Conv2d,
    classes: int = 10,
) -> nn.Sequential:
    """He et al.'s CIFAR network, plain or residual: a stem, three stages of basic blocks, a global-pooling head.

    ``layers = 6n + 2`` counts the weight layers as He et al. do: the stem, ``n`` blocks of two
    convolutions in each of three stages, and the final linear layer (``deep_net(20, ...)`` has 19
    convolutions). The stem is a 3×3 convolution with stride 2 and a 2×2 max pool, so that the
    stages of a 28×28 digit work on 7×7, 4×4 and 2×2 maps with ``channels``, ``2 * channels`` and
    ``4 * channels`` channels (map sides about a quarter of He et al.'s 32, 16 and 8, so about a
    twentieth of their pixels). He et al.'s CIFAR-10 stem has stride 1 and no pool. The first block
    of stages 2 and 3 halves the resolution with its first convolution. The residual network's
    shortcuts are identities, except at those two blocks, where they are projections (a strided 1×1
    convolution and BatchNorm, He et al.'s option B, their ImageNet choice; on CIFAR-10 they used
    option A, a zero-padded identity without parameters), so it has a few more parameters than the
    plain one.

    Args:
        layers: weight layers, ``6n + 2`` with ``n >= 1`` (8, 14, 20, 26, 32, ...).
        channels: channels of the stem and the first stage.
        residual: shortcuts around every block.
        norm: BatchNorm after every convolution (the stem's included).
        conv: the convolution class.
        classes: number of outputs.

    Returns:
        ``nn.Sequential`` with children ``stem, stem_bn, stem_relu, stem_pool, stage1, stage2, stage3,
        pool, flatten, fc``.

    Shapes:
        (N, 1, 28, 28) -stem-> (N, C, 7, 7) -stage1-> (N, C, 7, 7) -stage2-> (N, 2C, 4, 4)
        -stage3-> (N, 4C, 2, 2) -pool, fc-> (N, classes).

    >>> net = deep_net(20, residual=True)
    >>> len(net.stage1), sum(isinstance(m, nn.Conv2d) for m in net.modules())  # 3 blocks a stage; 19 + 2 projections
    (3, 21)
    """
    _check("deep_net: layers", layers, 8)
    if (layers - 2) % 6:
        raise ValueError(f"deep_net: layers must be 6n + 2 (stem + 3 stages of n blocks + fc), got {layers}")
    n = (layers - 2) // 6
    stages = []
    for c_in, c_out in ((channels, channels), (channels, 2 * channels), (2 * channels, 4 * channels)):
        first = BasicBlock(c_in, c_out, 1 if c_in == c_out else 2, residual=residual, norm=norm, conv=conv)
        rest = [BasicBlock(c_out, c_out, residual=residual, norm=norm, conv=conv) for _ in range(n - 1)]
        stages.append(nn.Sequential(first, *rest))
    return nn.Sequential(
        OrderedDict(
            [
                ("stem", conv(1, channels, 3, stride=2, padding=1, bias=not norm)),
                ("stem_bn", _norm(channels, norm)),
                ("stem_relu", nn.ReLU()),
                ("stem_pool", cnn.MaxPool2d(2)),
                ("stage1", stages[0]),
                ("stage2", stages[1]),
                ("stage3", stages[2]),
                *_head(4 * channels, classes),
            ]
        )
    )


def small_resnet(channels: int = 8, *, conv: type[nn.Conv2d] = cnn.Conv2d, classes: int = 10) -> nn.Sequential:
    """A small ResNet for 28×28 digits: a stem, two stages of one basic block each, global max pooling.

    The stem is a 3×3 convolution, BatchNorm, ReLU and a 2×2 max pool (28 → 14). The first stage keeps
    ``channels`` at 14×14 with an identity shortcut; the second doubles the channels and halves the
    resolution (14 → 7), with a projection shortcut. The head is a global *max* pool and a linear
    layer, as in ``convlib.course.models.global_pool_cnn``, so that the two differ in their body
    only (He et al.'s ResNets pool by averaging).

    Args:
        channels: channels of the stem and the first stage; the second has twice as many.
        conv: the convolution class.
        classes: number of outputs.

    Returns:
        ``nn.Sequential`` with children ``stem, stem_bn, stem_relu, stem_pool, stage1, stage2, pool, flatten, fc``.

    Shapes:
        (N, 1, 28, 28) -stem-> (N, C, 14, 14) -stage1-> (N, C, 14, 14) -stage2-> (N, 2C, 7, 7) -> (N, classes).

    >>> small_resnet()(torch.zeros(2, 1, 28, 28)).shape
    torch.Size([2, 10])
    """
    _check("small_resnet: channels", channels, 1)
    return nn.Sequential(
        OrderedDict(
            [
                ("stem", conv(1, channels, 3, padding=1, bias=False)),
                ("stem_bn", BatchNorm2d(channels)),
                ("stem_relu", nn.ReLU()),
                ("stem_pool", cnn.MaxPool2d(2)),
                ("stage1", BasicBlock(channels, channels, conv=conv)),
                ("stage2", BasicBlock(channels, 2 * channels, stride=2, conv=conv)),
                *_head(2 * channels, classes, nn.AdaptiveMaxPool2d),
            ]
        )
    )
