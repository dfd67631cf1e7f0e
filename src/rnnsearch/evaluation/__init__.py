"""Decoding and scoring: search, checkpoints, BLEU, alignments and the paper's tables."""
