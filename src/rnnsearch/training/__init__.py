"""Training under Lightning: the module, datamodule, callbacks, trainer and experiment tracker.

The only subpackage that imports Lightning (tests/config/test_package_layout.py).
"""
