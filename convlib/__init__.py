"""convlib: the reference implementations behind the course *Convolution in deep learning*.

Importing the package does nothing but define names: no seeds are set, no files are read, no
global state changes. Notebooks call :func:`convlib.course.notebook.setup` explicitly.

Modules, one concept each:

- ``functional``: the public ops, mirroring ``torch.nn.functional``; ``nn``: the layer modules.
- ``pooling``, ``folding``: pooling, and ``unfold``/``fold``.
- ``normalization``: batch normalisation, ``batch_norm`` and ``BatchNorm2d``, with running statistics.
- ``shapes``: output sizes; ``receptive_field``: the extent of what each unit of a network sees;
  ``dependency``: the exact set of input pixels it depends on.
- ``linear_map``: a convolution written out as its (sparse, block Toeplitz) matrix, for small cases.
- ``upsampling``: overlap counts of transposed convolutions, a checkerboard measure, sub-pixel convolution.
- ``groups``: p4 group-equivariant convolution (lifting, group convolution, rotation pooling);
  ``attention``: patch embeddings, relative-position self-attention, a convolution as attention.
- ``algorithms``: the convolution algorithms behind ``method=`` (``loops``, ``im2col``, ``fft``,
  ``winograd``), their shared grid helpers, the adjoint maps and the hand-written backward, the
  method registry with the ``"auto"`` rule, and one private module of speed tuning.
- ``course``: what the notebooks use: ``setup``, data (images, digits, MNIST-1D), devices, plotting,
  drawings and animations with their player, the explorer's cases, the committed benchmark, models,
  the training loop, streaming causal convolution, residual networks, dense prediction (digit
  canvases, U-Net, IoU), and the models of the last chapter (p4 networks, a small ViT).
"""

__version__ = "0.1.0"
