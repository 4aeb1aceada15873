"""Resolve a notebook's ``device`` parameter ("cpu", "cuda", "mps" or "auto") to a ``torch.device``."""

from __future__ import annotations

import torch

DEVICES = ("cpu", "cuda", "mps", "auto")


def get_device(name: str = "auto") -> torch.device:
    """Turn a device name into a ``torch.device``, failing clearly if it is not available.

    Args:
        name: "cpu", "cuda", "mps", or "auto" (CUDA if available, else MPS, else CPU).

    Returns:
        the ``torch.device``.

    Raises:
        ValueError: for an unknown name, or a GPU backend that this machine lacks.

    >>> get_device("cpu")
    device(type='cpu')
    """
    if not isinstance(name, str):
        raise TypeError(f"get_device: name must be a str, one of {DEVICES}, got {type(name).__name__}")
    if name not in DEVICES:
        raise ValueError(f"get_device: name must be one of {DEVICES}, got {name!r}")
    cuda, mps = torch.cuda.is_available(), torch.backends.mps.is_available()
    if name == "auto":
        return torch.device("cuda" if cuda else "mps" if mps else "cpu")
    if (name == "cuda" and not cuda) or (name == "mps" and not mps):
        raise ValueError(f"get_device: name={name!r} was asked for, but torch reports it is not available here")
    return torch.device(name)
