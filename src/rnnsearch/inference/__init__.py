"""Translating any text with a trained model: the self-contained model directory, `Translator`
(the Python API) and the streaming shell behind `python -m rnnsearch.translate input=...`."""
