"""The WMT'14 En->Fr recipe of Sec. 4.1: safe downloads and data selection."""
