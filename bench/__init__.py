"""handprop speed suite: pytest-benchmark cases (``pytest bench``) and the speed report."""
