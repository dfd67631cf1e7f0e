"""Where raw corpora come from: the embedded generator and the WMT'14 En->Fr recipe."""
