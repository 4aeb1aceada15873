"""Images the course uses, loaded offline from packages that ship them.

scikit-image's ``skimage.data`` ships the classic test images inside the wheel, and matplotlib ships
``grace_hopper.jpg``; nothing here touches the network. :data:`IMAGES` maps each name to a loader of
the raw ``uint8`` array, and :func:`load_image` turns it into a float32 tensor shaped (C, H, W) with
values in [0, 1].
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F


def _grace_hopper() -> np.ndarray:
    import matplotlib.cbook as cbook
    from PIL import Image

    path = cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)
    with Image.open(path) as image:
        return np.array(image.convert("RGB"))  # a writable copy: torch.from_numpy warns on read-only arrays


def _skimage(name: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        import skimage.data

        return getattr(skimage.data, name)()

    return load


#: Name -> loader. All of these are bundled with the installed packages (no download).
IMAGES: dict[str, Callable[[], np.ndarray]] = {
    **{n: _skimage(n) for n in ("astronaut", "camera", "chelsea", "coffee", "coins", "moon", "rocket")},
    "grace_hopper": _grace_hopper,
}


def load_image(name: str, size: int | tuple[int, int] | None = None, gray: bool = False) -> torch.Tensor:
    """Load a bundled image as a float tensor in [0, 1].

    Args:
        name: one of :data:`IMAGES` (e.g. "chelsea", "camera", "astronaut", "grace_hopper").
        size: ``None`` keeps the original size; an int ``s`` centre-crops to a square and resizes
            to (s, s) so nothing is distorted; a pair ``(H, W)`` resizes to exactly that.
        gray: convert to one luminance channel (ITU-R BT.601 weights).

    Returns:
        float32 tensor of shape (C, H, W), C = 1 for grey images, else 3.

    Shapes:
        () -> (C, H, W)

    >>> load_image("chelsea", size=128).shape  # RGB cat, centre-cropped, 128 x 128
    torch.Size([3, 128, 128])
    """
    if name not in IMAGES:
        raise ValueError(f"load_image: name must be one of {sorted(IMAGES)}, got {name!r}")
    array = IMAGES[name]()
    img = torch.from_numpy(np.ascontiguousarray(array)).float() / 255.0  # uint8 in [0, 255] -> [0, 1]
    img = img.unsqueeze(0) if img.ndim == 2 else img.permute(2, 0, 1)[:3]  # (H, W[, C]) -> (C, H, W)
    if gray and img.shape[0] == 3:
        weights = torch.tensor([0.299, 0.587, 0.114]).view(3, 1, 1)
        img = (img * weights).sum(0, keepdim=True)  # (1, H, W)
    if size is not None:
        img = _resize(img, size)
    return img.clamp(0.0, 1.0).contiguous()


def _resize(img: torch.Tensor, size: object) -> torch.Tensor:
    square = isinstance(size, int) and not isinstance(size, bool)
    values = (size, size) if square else size
    if not (isinstance(values, tuple) and len(values) == 2 and all(type(v) is int for v in values)):
        raise TypeError(f"load_image: size must be None, an int or a pair of ints, got {size!r}")
    target: tuple[int, int] = values
    if min(target) < 1:
        raise ValueError(f"load_image: size must be positive, got {size!r}")
    if square:
        h, w = img.shape[-2:]
        s = min(h, w)
        top, left = (h - s) // 2, (w - s) // 2
        img = img[:, top : top + s, left : left + s]  # centre square crop, so nothing is distorted
    # Antialiased bilinear uses non-negative weights, so values stay in [0, 1].
    return F.interpolate(img[None], size=target, mode="bilinear", antialias=True, align_corners=False)[0]
