"""Text as people type it: full-width forms (``１２００．５０``, ``１－１０１``), invisible characters pasted with it
and the many dashes, folded to what the rules compare."""

from __future__ import annotations

import unicodedata

INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), None)
DASHES = dict.fromkeys(map(ord, "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u30fc"), "-")


def fold(value: str) -> str:
    """NFKC, invisible characters removed, dashes unified, trimmed (codes, numbers, dates: not free text, where NFKC
    would turn the Chinese comma ``，`` into ``,``)."""
    if value.isascii():
        return value.strip()
    return unicodedata.normalize("NFKC", value).translate(INVISIBLE).translate(DASHES).strip()
