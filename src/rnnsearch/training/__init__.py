"""Training under Lightning: the module, datamodule, callbacks and experiment tracker.

The only subpackage that imports Lightning (tests/test_layering.py).
"""
