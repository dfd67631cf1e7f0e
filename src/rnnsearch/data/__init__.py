"""Corpus data: vocabulary shortlists, corpus files, preprocessing, batching and data guards."""
