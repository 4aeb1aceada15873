"""Dense prediction: a U-Net, a dilated segmenter, per-class IoU and the classifier-to-FCN rewrite.

:class:`UNet` is the encoder-decoder of Ronneberger, Fischer & Brox (MICCAI 2015), small: each level
has two 3×3 convolutions (padded, so the output has the input's size), the encoder halves the size
with 2×2 max pooling, and the decoder doubles it either with a stride-2 transposed convolution or by
nearest-neighbour resizing followed by a convolution (Odena et al., Distill 2016), and, with
``skips=True``, concatenates the encoder's map of the same size. :func:`dilated_segmenter` keeps a
small output stride and grows its field with dilated convolutions instead (Yu & Koltun, ICLR 2016;
Chen et al., DeepLab). :func:`iou` scores a segmentation per class. :func:`fully_convolutional`
rewrites a classifier's fully connected layers as convolutions, so that it slides over any larger
image in one pass (Long, Shelhamer & Darrell, CVPR 2015). All are built from :mod:`convlib.nn`.
"""

from __future__ import annotations

import copy
from collections import OrderedDict
from collections.abc import Sequence
from typing import Literal

import torch
from torch import nn

import convlib.nn as cnn
from convlib.course.canvas import CLASSES
from convlib.course.train import confusion_matrix

Upsample = Literal["transposed", "resize"]


def _block(c_in: int, c_out: int, conv: type[nn.Conv2d], batch_norm: bool) -> nn.Sequential:
    """Two padded 3×3 convolutions, each followed by a ReLU (and batch normalisation before it, if asked)."""
    layers: list[nn.Module] = []
    for c in (c_in, c_out):
        layers.append(conv(c, c_out, 3, padding=1, bias=not batch_norm))  # a bias before BatchNorm is redundant
        layers += [nn.BatchNorm2d(c_out), nn.ReLU()] if batch_norm else [nn.ReLU()]
    return nn.Sequential(*layers)


def _upsampler(c_in: int, c_out: int, kind: str, conv: type[nn.Conv2d]) -> nn.Module:
    """Double the size: a 3×3 stride-2 transposed convolution, or nearest resizing and a 3×3 convolution.

    Both have ``9 c_in c_out + c_out`` parameters; only the first has uneven overlaps (chapter 07).
    """
    if kind == "transposed":
        return cnn.ConvTranspose2d(c_in, c_out, 3, stride=2, padding=1, output_padding=1)
    return nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), conv(c_in, c_out, 3, padding=1))


class UNet(nn.Module):
    """A small U-Net: ``levels`` poolings down, as many upsamplings back, optional skip connections.

    Level ``l`` (0 at full resolution) has ``base * 2**l`` channels; the bottleneck, after the last
    pooling, has ``base * 2**levels``. Each decoder level upsamples, concatenates the encoder's map of
    that level when ``skips`` is True, and applies two 3×3 convolutions; a 1×1 convolution gives the
    class scores. Input sides must be multiples of ``2**levels``.

    Args:
        in_channels: input channels.
        classes: output channels, one score per class and pixel.
        base: channels of the first level.
        levels: number of poolings (and of upsamplings).
        upsample: ``"transposed"`` (stride-2 transposed convolution) or ``"resize"`` (nearest, then conv).
        skips: concatenate the encoder's maps into the decoder (False: a plain encoder-decoder).
        conv: the convolution class, :class:`convlib.nn.Conv2d` by default.
        batch_norm: put a ``torch.nn.BatchNorm2d`` (Ioffe & Szegedy 2015) between each 3×3
            convolution and its ReLU, as most U-Nets after the original do.

    Shapes:
        (N, in_channels, H, W) -> (N, classes, H, W).

    >>> net = UNet(base=4, levels=2)
    >>> net(torch.zeros(1, 1, 16, 16)).shape
    torch.Size([1, 11, 16, 16])
    """

    def __init__(
        self,
        in_channels: int = 1,
        classes: int = CLASSES,
        base: int = 8,
        levels: int = 2,
        upsample: Upsample = "transposed",
        skips: bool = True,
        conv: type[nn.Conv2d] = cnn.Conv2d,
        batch_norm: bool = False,
    ) -> None:
        super().__init__()
        if upsample not in ("transposed", "resize"):
            raise ValueError(f"UNet: upsample must be 'transposed' or 'resize', got {upsample!r}")
        if isinstance(levels, bool) or not isinstance(levels, int) or levels < 1:
            raise ValueError(f"UNet: levels must be a positive int, got {levels!r}")
        widths = [base * 2**level for level in range(levels + 1)]  # level 0 .. bottleneck
        self.levels, self.upsample, self.skips = levels, upsample, skips
        self.encoder = nn.ModuleList(
            _block(c_in, c_out, conv, batch_norm) for c_in, c_out in zip([in_channels, *widths], widths)
        )
        self.pool = cnn.MaxPool2d(2)
        self.up = nn.ModuleList(_upsampler(widths[l + 1], widths[l], upsample, conv) for l in reversed(range(levels)))
        self.decoder = nn.ModuleList(
            _block(2 * widths[l] if skips else widths[l], widths[l], conv, batch_norm) for l in reversed(range(levels))
        )
        self.head = conv(widths[0], classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class scores for every pixel."""
        return self.run(x)[0]

    def run(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Class scores, and the output of each upsampling layer, for measuring them (chapter 13's checkerboards).

        Args:
            x: a batch of images, H and W multiples of ``2**levels``.

        Returns:
            ``(scores, upsampled)``: the class scores, as :meth:`forward` gives them, and the output of
            each upsampling layer before its decoder block, coarsest first.

        Raises:
            ValueError: for an input that is not 4-D or whose sides are not multiples of ``2**levels``.

        Shapes:
            (N, in_channels, H, W) -> (N, classes, H, W), and for the upsampling layer that ends at
            level l = levels - 1, ..., 0: (N, base * 2**l, H / 2**l, W / 2**l).

        >>> scores, upsampled = UNet(base=4, levels=2).run(torch.zeros(1, 1, 16, 16))
        >>> [tuple(u.shape) for u in upsampled]
        [(1, 8, 8, 8), (1, 4, 16, 16)]
        """
        side = 2**self.levels
        if x.ndim != 4 or x.shape[-2] % side or x.shape[-1] % side:
            raise ValueError(f"UNet: input must be (N, C, H, W) with H and W multiples of {side}, got {tuple(x.shape)}")
        kept = []
        for level, block in enumerate(self.encoder):
            x = block(x if level == 0 else self.pool(x))  # (N, base * 2**level, H / 2**level, W / 2**level)
            kept.append(x)
        upsampled = []
        for up, block, skip in zip(self.up, self.decoder, reversed(kept[:-1])):
            x = up(x)  # (N, c, 2h, 2w): the size of the encoder level it meets
            upsampled.append(x)
            x = block(torch.cat([skip, x], dim=1) if self.skips else x)  # (N, 2c or c, ...) -> (N, c, ...)
        return self.head(x), upsampled

    def deepest_path(self) -> nn.Sequential:
        """The layers on the longest path from input to output, in order: what bounds the receptive field.

        Every other path (through a skip) starts at the same input and skips some of these layers, so
        its field lies inside this one's; :func:`convlib.dependency.dependency_mask` reads it.
        """
        layers: list[nn.Module] = [self.encoder[0]]
        for block in self.encoder[1:]:
            layers += [copy.deepcopy(self.pool), block]  # nn.Sequential keeps a repeated module once
        for up, block in zip(self.up, self.decoder):
            layers += [up, block]
        return nn.Sequential(*layers, self.head)


def dilated_segmenter(
    rates: Sequence[int] = (1, 2, 3),
    width: int = 16,
    classes: int = CLASSES,
    conv: type[nn.Conv2d] = cnn.Conv2d,
    batch_norm: bool = False,
    pool: bool = True,
) -> nn.Sequential:
    """A segmenter whose field grows by dilation, not by pooling, at output stride 2 or 1.

    A 3×3 convolution (the stem), with ``pool`` a 2×2 max pool (output stride 2), then one 3×3
    convolution per entry of ``rates`` with that dilation (padding = dilation keeps the size), and a
    1×1 convolution to the class scores; with ``pool``, nearest-neighbour upsampling back to the
    input's size. Each 3×3 convolution is followed by a ReLU, with a ``torch.nn.BatchNorm2d`` before
    it if ``batch_norm``.

    Args:
        rates: dilation of each 3×3 layer after the stem; ``(2, 2, 2)`` and ``(1, 2, 3)`` reach equally far.
        width: channels of every hidden layer.
        classes: output channels.
        conv: the convolution class.
        batch_norm: normalise each 3×3 convolution's output over the batch before its ReLU.
        pool: pool once after the stem (output stride 2) or never (output stride 1).

    Returns:
        ``nn.Sequential`` named ``stem relu0 [pool] conv1 relu1 ... head [up]``, with ``norm0``,
        ``norm1``, ... before the ReLUs if ``batch_norm``.

    Shapes:
        (N, 1, H, W) -> (N, classes, H, W) (H and W even if ``pool``).

    >>> dilated_segmenter()(torch.zeros(1, 1, 8, 8)).shape
    torch.Size([1, 11, 8, 8])
    """
    if not rates or any(isinstance(r, bool) or not isinstance(r, int) or r < 1 for r in rates):
        raise ValueError(f"dilated_segmenter: rates must be positive ints, got {rates!r}")
    layers: OrderedDict[str, nn.Module] = OrderedDict()
    for i, rate in enumerate((1, *rates)):  # the stem, then the dilated layers
        c_in = 1 if i == 0 else width
        layers["stem" if i == 0 else f"conv{i}"] = conv(
            c_in, width, 3, padding=rate, dilation=rate, bias=not batch_norm
        )
        if batch_norm:
            layers[f"norm{i}"] = nn.BatchNorm2d(width)
        layers[f"relu{i}"] = nn.ReLU()
        if i == 0 and pool:
            layers["pool"] = cnn.MaxPool2d(2)
    layers["head"] = conv(width, classes, 1)
    if pool:
        layers["up"] = nn.Upsample(scale_factor=2, mode="nearest")
    return nn.Sequential(layers)


def iou(y_true: torch.Tensor, y_pred: torch.Tensor, classes: int = CLASSES) -> torch.Tensor:
    """Intersection over union of each class: ``TP / (TP + FP + FN)``, from the confusion matrix.

    With ``M`` the confusion matrix (rows true, columns predicted), class ``c`` has ``TP = M[c, c]``,
    ``FN`` = the rest of row ``c`` and ``FP`` = the rest of column ``c``, so the union is
    ``row sum + column sum - M[c, c]``.

    Args:
        y_true: int64 labels in ``0..classes-1``, any shape (e.g. (N, H, W)).
        y_pred: int64 predictions, the same shape.
        classes: number of classes C.

    Returns:
        float64 tensor (C,); ``nan`` for a class absent from both ``y_true`` and ``y_pred``.

    Shapes:
        (...), (...) -> (C,)

    >>> iou(torch.tensor([0, 0, 1, 1]), torch.tensor([0, 1, 1, 1]), classes=3)  # class 0: 1/2, 1: 2/3, 2: none
    tensor([0.5000, 0.6667,    nan], dtype=torch.float64)
    """
    if y_true.shape != y_pred.shape:
        raise ValueError(
            f"iou: y_true and y_pred must have one shape, got {tuple(y_true.shape)}, {tuple(y_pred.shape)}"
        )
    m = confusion_matrix(y_true.flatten(), y_pred.flatten(), classes).double()  # (C, C)
    union = m.sum(0) + m.sum(1) - m.diag()
    return torch.where(union > 0, m.diag() / union.clamp(min=1), torch.nan)


def window_classifier(
    channels: tuple[int, int] = (8, 16), hidden: int = 64, classes: int = 10, conv: type[nn.Conv2d] = cnn.Conv2d
) -> nn.Sequential:
    """A LeNet-style classifier for 28×28 digits with unpadded convolutions: each output reads one window.

    Two 5×5 convolutions without padding, each followed by a ReLU and a 2×2 max pool, then two fully
    connected layers. Without padding, nothing outside the 28×28 window reaches the output, so
    :func:`fully_convolutional` turns it into a network whose every output is this classifier applied
    to one window of a larger image (chapter 09's ``lenet`` pads its first convolution, which breaks this).

    Args:
        channels: output channels of the two convolutions.
        hidden: units of the first fully connected layer.
        classes: number of outputs.
        conv: the convolution class.

    Returns:
        ``nn.Sequential`` named ``conv1 relu1 pool1 conv2 relu2 pool2 flatten fc1 relu3 fc2``.

    Shapes:
        (N, 1, 28, 28) -conv1-> (N, c1, 24, 24) -pool1-> (N, c1, 12, 12) -conv2-> (N, c2, 8, 8)
        -pool2-> (N, c2, 4, 4) -flatten-> (N, 16 c2) -> (N, hidden) -> (N, classes).

    >>> window_classifier()(torch.zeros(2, 1, 28, 28)).shape
    torch.Size([2, 10])
    """
    c1, c2 = channels
    return nn.Sequential(
        OrderedDict(
            conv1=conv(1, c1, 5),
            relu1=nn.ReLU(),
            pool1=cnn.MaxPool2d(2),
            conv2=conv(c1, c2, 5),
            relu2=nn.ReLU(),
            pool2=cnn.MaxPool2d(2),
            flatten=nn.Flatten(),
            fc1=nn.Linear(c2 * 4 * 4, hidden),
            relu3=nn.ReLU(),
            fc2=nn.Linear(hidden, classes),
        )
    )


def fully_convolutional(classifier: nn.Sequential, input_shape: tuple[int, int, int]) -> nn.Sequential:
    """Rewrite a classifier's fully connected layers as convolutions (Long et al. 2015).

    The first ``Linear`` after the ``Flatten`` reads a (C, h, w) map: it becomes a convolution whose
    kernel covers that whole map, ``weight.view(out, C, h, w)``. Every later ``Linear`` reads one
    vector per position and becomes a 1×1 convolution. On an input of ``input_shape`` the network
    gives the classifier's logits as an (N, classes, 1, 1) map; on a larger input, the logits of
    every window of that size, at steps of the network's total stride, in one pass.

    Args:
        classifier: an ``nn.Sequential`` of convolutions, pooling and pointwise layers, one
            ``nn.Flatten``, then ``Linear`` and pointwise layers.
        input_shape: (C_in, H, W) of the images the classifier was built for.

    Returns:
        a new ``nn.Sequential`` (the classifier is copied, not shared) with the same layer names, the
        ``Flatten`` removed and each ``Linear`` replaced by a :class:`convlib.nn.Conv2d`.

    Shapes:
        (N, C_in, H', W') -> (N, classes, (H' - H) / stride + 1, (W' - W) / stride + 1).

    >>> net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(2 * 2 * 2, 3))
    >>> fcn = fully_convolutional(net, (1, 4, 4))
    >>> x = torch.randn(1, 1, 4, 4); torch.allclose(fcn(x).flatten(1), net(x), atol=1e-6)
    True
    """
    parameter = next(classifier.parameters())
    x = torch.zeros(1, *input_shape, dtype=parameter.dtype, device=parameter.device)  # traces the map sizes
    layers: OrderedDict[str, nn.Module] = OrderedDict()
    flat_shape: tuple[int, ...] | None = None
    for name, layer in classifier.named_children():
        if isinstance(layer, nn.Flatten):
            if layer.start_dim != 1 or layer.end_dim != -1:
                raise ValueError(f"fully_convolutional: {name!r} must be nn.Flatten() over (C, H, W), got {layer!r}")
            flat_shape = tuple(x.shape[1:])  # (C, h, w), read by the first Linear
            continue
        if isinstance(layer, nn.Linear):
            if flat_shape is None:
                raise ValueError(f"fully_convolutional: Linear layer {name!r} comes before any nn.Flatten")
            c, h, w = flat_shape
            conv = cnn.Conv2d(c, layer.out_features, (h, w), bias=layer.bias is not None)
            conv = conv.to(parameter.device, parameter.dtype)
            with torch.no_grad():
                conv.weight.copy_(layer.weight.view(layer.out_features, c, h, w))  # (out, C*h*w) -> (out, C, h, w)
                if layer.bias is not None and conv.bias is not None:
                    conv.bias.copy_(layer.bias)
            layers[name] = conv
            flat_shape = (layer.out_features, 1, 1)  # a later Linear is a 1x1 convolution
        else:
            if flat_shape is not None and any(isinstance(layer, t) for t in (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)):
                raise ValueError(f"fully_convolutional: {name!r} is spatial but comes after the Flatten")
            layers[name] = copy.deepcopy(layer)
        with torch.no_grad():
            x = layers[name](x)
    if flat_shape is None:
        raise ValueError("fully_convolutional: the classifier has no nn.Flatten")
    return nn.Sequential(layers)
