"""Vietnamese name normalisation for search and duplicate blocking (DESIGN §4).

People type the same name with and without diacritics, with "đ" as "d", with
double spaces, or family name last. The *key* folds all that away so that
"Nguyễn  Văn Hùng", "nguyen van hung" and "Hùng Nguyễn Văn" meet in one block.
"""

from __future__ import annotations

import unicodedata

_D = str.maketrans({"đ": "d", "Đ": "d"})


class _NoMarks(dict):
    """``str.translate`` table dropping non-spacing marks (category Mn), filled as met."""

    def __missing__(self, codepoint: int) -> int | None:
        kept = None if unicodedata.category(chr(codepoint)) == "Mn" else codepoint
        self[codepoint] = kept
        return kept


_NO_MARKS = _NoMarks()


def fold(text: str) -> str:
    """Lower case, no diacritics, đ→d, single spaces."""
    bare = unicodedata.normalize("NFD", text.translate(_D)).translate(_NO_MARKS)
    return " ".join(bare.lower().split())

