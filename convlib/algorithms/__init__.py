"""The convolution algorithms behind ``method=``, as peers that share only :mod:`~convlib.algorithms.grid`.

- :mod:`~convlib.algorithms.loops`, :mod:`~convlib.algorithms.im2col`, :mod:`~convlib.algorithms.fft`,
  :mod:`~convlib.algorithms.winograd`: each one's ``correlate(x, weight, geometry)``, written to be read,
  safe under autograd;
- :mod:`~convlib.algorithms.adjoint`: transposed convolution and the weight gradient, for any of them;
- :mod:`~convlib.algorithms.autograd`: the hand-written backward pass;
- :mod:`~convlib.algorithms.registry`: the names ``method=`` takes, and the ``"auto"`` rule;
- :mod:`~convlib.algorithms._fast`: the speed tuning, private, tested equal to the plain versions.

Every ``correlate`` takes, besides the tensors, one :class:`~convlib.geometry.Geometry` (stride,
padding per side, dilation, groups). The ops build it while they check their arguments; it is
importable from here, ``from convlib.algorithms import Geometry``, to call an algorithm directly.
"""

from convlib.geometry import Geometry

__all__ = ["Geometry"]
