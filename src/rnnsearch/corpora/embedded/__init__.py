"""The embedded English-like -> French-like corpus: lexicon, grammar and orthography."""
