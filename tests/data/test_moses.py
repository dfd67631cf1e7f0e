"""The one Moses detokenizer (data/moses.py): hypotheses back to text, as sacreBLEU scores them."""

from __future__ import annotations

from rnnsearch.data.moses import detokenize, detokenize_lines, tokenize_line


def test_detokenize_lines_undoes_moses_tokenization() -> None:
    assert detokenize_lines(["Hello , world !", "it &apos;s", ""], "en") == [
        "Hello, world!", "it's", ""]


def test_detokenize_lines_is_detokenize_of_each_lines_tokens() -> None:
    line = "« C' est l' homme , dit -il . »"
    assert detokenize_lines([line], "fr") == [detokenize(line.split(), "fr")]
    assert detokenize(tokenize_line("It's 5 o'clock, isn't it?", "en"), "en") == \
        "It's 5 o'clock, isn't it?"
