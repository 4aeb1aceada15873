"""What the notebooks use besides the ops.

``notebook`` (``setup``), ``device``; data: ``data`` (images), ``digits`` (MNIST-5k, 8x8 digits),
``mnist1d``, ``canvas`` (digits on a canvas with per-pixel labels); figures: ``plotting``, ``sliding``
(1-D drawings), ``animation`` and ``player`` (offline animations), ``explorer`` (the explorer page's
golden cases); ``benchmarks`` (the committed benchmark); ``models``, ``train`` and ``streaming``
(Part III); ``resnet`` (residual blocks and deep networks), ``segmentation`` (U-Net, dilated segmenter,
IoU, classifier to FCN), ``symmetry`` (the p4 network, an ordinary CNN of the same size, rotated digits)
and ``vit`` (a tiny vision transformer) for Part IV.
"""
