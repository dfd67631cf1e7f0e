"""Decoding and scoring: checkpoints, BLEU, alignments and the paper's tables."""
