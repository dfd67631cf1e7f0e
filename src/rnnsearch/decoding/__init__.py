"""Decoding: search over the Seq2Seq protocol, between `models/` and its users.

Used by training (greedy dev BLEU), translation, reference alignments and the decode benchmark.
"""
