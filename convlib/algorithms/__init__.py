"""The convolution algorithms behind ``method=``, as peers that share only :mod:`~convlib.algorithms.grid`.

- :mod:`~convlib.algorithms.loops`, :mod:`~convlib.algorithms.im2col`, :mod:`~convlib.algorithms.fft`,
  :mod:`~convlib.algorithms.winograd`: each one's ``correlate(x, weight, geometry)``, written to be read,
  safe under autograd; :mod:`~convlib.algorithms.toom_cook` derives Winograd's matrices for any size;
- :mod:`~convlib.algorithms.adjoint`: transposed convolution and the weight gradient, for any of them;
- :mod:`~convlib.algorithms.autograd`: the hand-written backward pass;
- :mod:`~convlib.algorithms.registry`: the names ``method=`` takes, the ``"auto"`` rule, and
  :func:`~convlib.algorithms.registry.plain`, the switch to the plain versions;
- :mod:`~convlib.algorithms._fast`: the speed tuning, private, tested equal to the plain versions.

The ops run the tuned im2col and FFT. Inside ``with convlib.algorithms.plain():`` every op runs the
plain algorithm the chapters show, forward and backward (nanoGPT's readable path beside the fast one,
behind one switch).

Every ``correlate`` takes, besides the tensors, one :class:`~convlib.geometry.Geometry` (stride,
padding per side, dilation, groups). The ops build it while they check their arguments; it is
importable from here too, ``from convlib.algorithms import Geometry``, to call an algorithm directly.
"""

from convlib.algorithms.registry import plain
from convlib.geometry import Geometry

__all__ = ["Geometry", "plain"]
