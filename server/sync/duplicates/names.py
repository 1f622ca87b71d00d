"""Vietnamese names as parts: family name, middle name(s), given name. Pure Python.

Two collaborators write one person's name differently in ways that are not
random typing noise, and each way says something different:

* **marks**: typed without diacritics at all (``Bui Thi Thom``: says nothing), the
  tone mark put on the other vowel (``Hòa``/``Hoà``: the same spelling), or a
  different tone or vowel mark where both wrote marks (``Mai``/``Mại``: another
  name, or a slip);
* **abbreviations**: ``Ng.``, ``T.``, ``V`` — a token written with a dot, or without
  a vowel, stands for any token it begins;
* **missing parts**: a middle name left out (``Trần Thị Lan``/``Trần Thị Ngọc Lan``,
  ``Đỗ Nam``/``Đỗ Văn Nam``), a family name left out (``Thị Ngọc``/``Điểu Thị Ngọc``);
* **sound**: letters said alike in the north, the south or in minority names written
  in Vietnamese letters — ``s``/``x``, ``ch``/``tr``, ``d``/``gi``/``r``, ``l``/``n``,
  ``p``/``b``, ``ph``/``f``, Tày ``sl``/``s``, ``y``/``i``, finals ``n``/``ng``/``nh``
  and ``c``/``t``/``ch`` (:func:`sound`), and the hỏi and ngã tones
  (``Nghĩa``/``Nghỉa``), one tone in the south and the centre;
* **order and spacing**: the given name written first (``Vinh Tạ Quang``), a name
  of several syllables joined or split (``Sô Phal``/``Sophal``, ``Êban``/``Ê Ban``,
  ``H'Hen``/``H Hen``).

:func:`readings` says, for each part, how the two agree: ``same``, ``unmarked``
(one side typed without marks), ``marks`` (both marked, differently), ``initial``,
``sound``, ``typo`` (one letter, or two neighbours swapped), ``close`` (most letters),
``missing``, ``differ``. Everything is symmetric in its two arguments.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from rapidfuzz.distance import OSA, Indel

TONES = frozenset("\u0300\u0301\u0303\u0309\u0323")  # huyền, sắc, ngã, hỏi, nặng
SAID_ALIKE = frozenset("\u0303\u0309")  # ngã and hỏi: one tone in the south and centre
_APOSTROPHES = str.maketrans("", "", "'’‘`´ʼ")
_VOWELS = frozenset("aeiouy")


@dataclass(frozen=True, slots=True)
class Token:
    fold: str     # lower case, no marks, đ→d
    bare: str     # lower case, vowel marks kept, tone mark dropped (the spelling)
    tone: str     # the tone mark, or ""
    marked: bool  # written with any mark (or đ)
    short: bool   # an abbreviation: written with a dot, or without a vowel


@dataclass(frozen=True, slots=True)
class Name:
    tokens: tuple[Token, ...]
    marked: bool  # some token is marked: the writer used diacritics

    @property
    def folds(self) -> tuple[str, ...]:
        return tuple(t.fold for t in self.tokens)


@lru_cache(maxsize=1 << 15)
def _token(raw: str) -> Token | None:
    """A word's token; cached, as syllables repeat across names (Nguyễn, Thị, Văn…)."""
    short = raw.endswith(".")
    raw = raw.replace(".", "")
    if not raw:
        return None
    nfd = unicodedata.normalize("NFD", raw)
    tone = next((ch for ch in nfd if ch in TONES), "")
    bare = unicodedata.normalize("NFC", "".join(ch for ch in nfd if ch not in TONES))
    fold = "".join(ch for ch in nfd if unicodedata.category(ch) != "Mn").replace("đ", "d")
    marked = fold != raw
    return Token(fold, bare, tone, marked, short or not _VOWELS & set(fold))


@lru_cache(maxsize=1 << 16)
def parse(full_name: str) -> Name:
    """Tokens of a name as written (lower case, NFC; ``-`` is a space, apostrophes go)."""
    text = unicodedata.normalize("NFC", full_name).lower().translate(_APOSTROPHES)
    tokens = tuple(t for t in (_token(w) for w in text.replace("-", " ").split()) if t)
    return Name(tokens, any(t.marked for t in tokens))


# -- sound ------------------------------------------------------------------------------

_INITIALS = (("ngh", "n"), ("gh", "g"), ("gi", "z"), ("ng", "n"), ("nh", "nh"), ("ph", "f"),
             ("tr", "c"), ("ch", "c"), ("kh", "kh"), ("th", "th"), ("sl", "s"), ("qu", "kw"),
             ("d", "z"), ("r", "z"), ("x", "s"), ("s", "s"), ("l", "n"), ("n", "n"),
             ("p", "b"), ("b", "b"), ("k", "c"), ("c", "c"), ("q", "kw"), ("f", "f"))
_FINALS = (("ng", "n"), ("nh", "n"), ("ch", "t"), ("c", "t"))


@lru_cache(maxsize=1 << 15)
def sound(fold: str) -> str:
    """A syllable by how it sounds: consonants said alike made one (see the module doc)."""
    spelt, head = _initial(fold)
    return head + _said(fold[len(spelt):])


_LEADING_CONSONANTS = re.compile(r"^[^aeiouy]+")


@lru_cache(maxsize=1 << 15)
def rime(fold: str) -> str:
    """A syllable without its leading consonants, as it sounds: ``Tráng``/``Chráng`` →
    ``an``, ``Ngọc`` → ``ot`` (a blocking key for a misspelt first letter)."""
    return _said(_LEADING_CONSONANTS.sub("", fold))


def _said(rest: str) -> str:
    """The vowels and final of a syllable as they sound (y as i; n, ng, nh; t, c, ch)."""
    rest = rest.replace("y", "i")
    for spelt, said in _FINALS:
        if rest.endswith(spelt) and len(rest) > len(spelt):
            return rest[: -len(spelt)] + said
    return rest


def _initial(fold: str) -> tuple[str, str]:
    """(the initial consonants as spelt, as said) of a folded syllable."""
    for spelt, said in _INITIALS:
        if fold.startswith(spelt) and (spelt != "gi" or len(fold) > 2):
            return spelt, said
    return "", ""


_SKELETON = [(re.compile(a), b) for a, b in (
    (r"ngh|ng|nh", "n"), (r"gh", "g"), (r"tr|ch|k|q", "c"), (r"gi|r|z", "d"), (r"ph", "f"),
    (r"p", "b"), (r"sl|x", "s"), (r"l", "n"), (r"y", "i"), (r"t$", "c"))]
_DOUBLES = re.compile(r"(.)\1+")


@lru_cache(maxsize=1 << 16)
def skeleton(full_name: str) -> str:
    """The whole name, spaces gone and sound-alike letters made one (token by token):
    the same for ``Thạch Sô Phal``/``Thạch Sophal``, ``Sùng A Chứ``/``Sùng A Trứ``,
    ``Lan``/``Lang``, ``Lộc``/``Lột``… (a blocking key, coarser than :func:`sound` on
    purpose)."""
    return _DOUBLES.sub(r"\1", "".join(_skeleton_token(text) for text in parse(full_name).folds))


@lru_cache(maxsize=1 << 15)
def _skeleton_token(text: str) -> str:
    """One folded syllable with sound-alike letters made one (cached: syllables repeat)."""
    for pattern, said in _SKELETON:
        text = pattern.sub(said, text)
    return text


# -- comparing --------------------------------------------------------------------------

SAME, UNMARKED, MARKS = "same", "unmarked", "marks"
INITIAL, SOUND, TYPO, CLOSE, MISSING, DIFFER, NONE = (
    "initial", "sound", "typo", "close", "missing", "differ", "none")
# how well two tokens agree, best first
LEVELS = (SAME, UNMARKED, MARKS, INITIAL, SOUND, TYPO, CLOSE, DIFFER)
_RANK = {level: i for i, level in enumerate(LEVELS)}


def tokens_agree(x: Token, y: Token) -> str:
    """How two tokens agree (one of :data:`LEVELS`)."""
    if x.fold == y.fold:
        if x.bare == y.bare and x.tone == y.tone:
            return SAME
        if not (x.marked and y.marked):
            return UNMARKED
        return SOUND if x.bare == y.bare and {x.tone, y.tone} == SAID_ALIKE else MARKS
    if (x.short and y.fold.startswith(x.fold)) or (y.short and x.fold.startswith(y.fold)):
        return INITIAL
    if sound(x.fold) == sound(y.fold):
        return SOUND
    if OSA.distance(x.fold, y.fold) <= 1 and min(len(x.fold), len(y.fold)) >= 2:
        return TYPO
    if Indel.normalized_similarity(x.fold, y.fold) >= 0.7:
        return CLOSE
    return DIFFER


def _middles(a: tuple[Token, ...], b: tuple[Token, ...]) -> str:
    if not a and not b:
        return NONE
    if not a or not b:
        return MISSING
    if len(a) == len(b):
        levels = [tokens_agree(x, y) for x, y in zip(a, b, strict=True)]
        return max(levels, key=_RANK.__getitem__) if DIFFER not in levels else DIFFER
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    it = iter(long_)  # the shorter is the longer with tokens left out, in order
    kept = all(any(tokens_agree(s, t) in (SAME, UNMARKED, MARKS, INITIAL, SOUND) for t in it)
               for s in short)
    return MISSING if kept else DIFFER


@dataclass(frozen=True, slots=True)
class Agreement:
    """How the parts of two names agree, and under which reading (``how``): as written
    (``""``), ``reordered``, ``joined`` (spaced differently) or ``no_family``."""

    family: str
    middle: str
    given: str
    how: str = ""

    def as_dict(self) -> dict[str, str]:
        out = {"family": self.family, "middle": self.middle, "given": self.given}
        if self.how:
            out["order"] = self.how
        return out


def _parts(a: tuple[Token, ...], b: tuple[Token, ...], how: str = "") -> Agreement:
    if len(a) == 1 or len(b) == 1:  # a lone token is the given name
        family = NONE if len(a) == len(b) == 1 else MISSING
        return Agreement(family, NONE, tokens_agree(a[-1], b[-1]), how)
    return Agreement(tokens_agree(a[0], b[0]), _middles(a[1:-1], b[1:-1]),
                     tokens_agree(a[-1], b[-1]), how)


def _joined(a: Name, b: Name) -> str | None:
    """Whether two differently spaced names are the same letters (or one slip apart)."""
    ja, jb = "".join(a.folds), "".join(b.folds)
    if len(a.tokens) == len(b.tokens) or min(len(ja), len(jb)) < 4:
        return None
    if ja == jb:
        return SAME
    if OSA.distance(ja, jb) <= 1 and min(len(ja), len(jb)) >= 8:
        return TYPO
    return None


def _rotated(tokens: tuple[Token, ...]) -> tuple[Token, ...]:
    """Given name written first, put back last: ``Vinh Tạ Quang`` → ``Tạ Quang Vinh``."""
    return tokens[1:] + tokens[:1]


_TOP = (SAME, UNMARKED)


@lru_cache(maxsize=1 << 16)
def readings(a_name: str, b_name: str) -> tuple[Agreement, ...]:
    """Every reading of two names that may be the right one: as written, one of them
    with its given name first, spaced differently, without its family name. The
    caller weighs them (:mod:`.scoring` takes the reading with the most evidence).

    A reading is left out only when it cannot be better than one kept: as written,
    with the family and given names agreeing fully, nothing else can be; a reading
    whose given names disagree is worse than one whose given names agree."""
    a, b = parse(a_name), parse(b_name)
    if not a.tokens or not b.tokens:
        return (Agreement(DIFFER, NONE, DIFFER),)
    joined = _joined(a, b)
    if joined is not None:
        return (Agreement(joined, joined, joined, "joined"),)
    written = _parts(a.tokens, b.tokens)
    out = [written]
    if written.given in _TOP and written.family in (*_TOP, NONE):
        return tuple(out)
    if len(a.tokens) > 1 and len(b.tokens) > 1:
        for x, y in ((a.tokens, b.tokens), (b.tokens, a.tokens)):
            if written.given == DIFFER or tokens_agree(x[0], y[-1]) != DIFFER:
                out.append(_parts(_rotated(x), y, "reordered"))
    if len(a.tokens) != len(b.tokens):  # one side left the family name out
        short, long_ = (a, b) if len(a.tokens) < len(b.tokens) else (b, a)
        if len(short.tokens) >= 2 and short.folds == long_.folds[1:]:
            rest = _parts(short.tokens, long_.tokens[1:])
            out.append(Agreement(MISSING, rest.middle, rest.given, "no_family"))
    # the same set whichever name comes first: the caller's choice stays symmetric
    return tuple(sorted(set(out), key=lambda r: (r.how, r.family, r.middle, r.given)))
