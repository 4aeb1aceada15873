"""What the notebooks use besides the ops: :mod:`~convlib.course.notebook` (``setup``), bundled data,
devices, plotting helpers, and the sliding-kernel animations with their offline player."""
