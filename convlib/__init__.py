"""convlib: the reference implementations behind the course *Convolution in deep learning*.

Importing the package does nothing but define names: no seeds are set, no files are read, no
global state changes. Notebooks call :func:`convlib.notebook.setup` explicitly.

Modules, one concept each:

- ``functional``: the public ops, mirroring ``torch.nn.functional``.
- ``loops``, ``im2col``, ``fft``, ``winograd``: the convolution algorithms behind ``method=``.
- ``autograd``: the hand-written backward pass.
- ``pooling``, ``shapes``, ``nn``: pooling, size arithmetic and receptive fields, module wrappers.
- ``data``, ``plotting``, ``animation``, ``notebook``, ``device``: what the notebooks use.
- ``execute``: the safe notebook executor (``python -m convlib.execute``).
"""

__version__ = "0.1.0"
