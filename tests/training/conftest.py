"""Fixtures for the training tests: the tiny prepared corpus, the tiny-model overrides and
`train_cfg` live in tests/conftest.py (the CUDA checks in tests/gpu use them too)."""
