"""Word forms a faithful paraphrase may use: the same name in another form (Sweden and
Swedish, Saudi Arabia and Saudi Arabian), other inflections (cracked down and crackdown,
announced and announcement), and numbers written differently ("$1.5bn", "1.5 billion",
"1,500 million"; "20%", "20 percent"; "five" and "5").

The citation checker asks `WordSet.has(word)` of a source sentence for each word of a
claim; a sentence has a word when it holds it in any of these forms.
"""

from __future__ import annotations

import itertools
import re

from index.tokens import STOPWORDS, stem

__all__ = ["WordSet", "canonical_numbers", "claim_words", "key_words"]

_MULTIPLIERS = {
    "thousand": 1e3,
    "k": 1e3,
    "million": 1e6,
    "millions": 1e6,
    "mn": 1e6,
    "mln": 1e6,
    "m": 1e6,
    "billion": 1e9,
    "billions": 1e9,
    "bn": 1e9,
    "b": 1e9,
    "trillion": 1e12,
    "trillions": 1e12,
    "tn": 1e12,
}
_SMALL = {
    "zero": 0,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
    "hundred": 100,
    "dozen": 12,
}
_NUMBER = re.compile(
    r"(?<![\w.])[$€£¥]?\s?(?P<value>\d+(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|"
    + "|".join(sorted(_SMALL, key=len, reverse=True))
    + r")(?:\s*-?\s*(?P<mult>"
    + "|".join(sorted(_MULTIPLIERS, key=len, reverse=True))
    + r")\b)?(?P<pct>\s*(?:%|percent\b|per\s+cent\b|pct\b))?",
    re.IGNORECASE,
)


def _number_token(match: re.Match[str]) -> str:
    raw = match.group("value").lower()
    value = float(_SMALL[raw]) if raw in _SMALL else float(raw.replace(",", ""))
    mult = (match.group("mult") or "").lower()
    # "5m" and "5 b" are amounts, but a bare "m" after a word number is rare: keep it simple
    if mult:
        value *= _MULTIPLIERS[mult]
    text = f"{value:.6g}".replace("+", "")
    if "e" in text:  # 1.5e+09 -> an integer string, so "1,500,000,000" matches too
        text = str(int(value))
    token = f"#{text}"
    return f" {token}% " if match.group("pct") else f" {token} "


def canonical_numbers(text: str) -> str:
    """The text with each number rewritten as one token: "$1.5bn" and "1.5 billion" both
    become "#1500000000", "20 percent" and "20%" become "#20%", "five" becomes "#5"."""
    return _NUMBER.sub(_number_token, text)


_WORD = re.compile(r"#[0-9.]+%?|[^\W\d_]+(?:['’][^\W\d_]+)?|\d+", re.UNICODE)


def _words(text: str) -> list[str]:
    return [
        w.lower().replace("’", "'").removesuffix("'s")
        for w in _WORD.findall(canonical_numbers(text))
    ]


def claim_words(text: str) -> list[str]:
    """The content words of a text (lower case, numbers canonical, stop words dropped)."""
    return [w for w in _words(text) if w.startswith("#") or (w not in STOPWORDS and len(w) > 1)]


_KEY = re.compile(r"#[0-9.]+%?|[^\W\d_][\w'’-]*")


def key_words(text: str) -> set[str]:
    """Names and figures of a text: capitalised words after the first (short acronyms
    such as CEO or EU aside, which are often spelled out elsewhere) and numbers. In a
    short answer ("Kansas City."), which is all names, the first word counts too."""
    found = _KEY.findall(canonical_numbers(text))
    short = len(claim_words(text)) < 4
    keys = set()
    for i, w in enumerate(found):
        named = (i > 0 or short) and w[0].isupper() and not (w.isupper() and len(w) <= 3)
        if w.startswith("#") or named:
            keys.update(claim_words(w))
    return keys


# Places and the words for their people where the two share no stem.
_DEMONYMS = {
    "american": "america",
    "americans": "america",
    "us": "america",
    "usa": "america",
    "british": "britain",
    "briton": "britain",
    "britons": "britain",
    "uk": "britain",
    "english": "england",
    "welsh": "wales",
    "irish": "ireland",
    "scottish": "scotland",
    "scots": "scotland",
    "french": "france",
    "dutch": "netherlands",
    "swiss": "switzerland",
    "spanish": "spain",
    "spaniard": "spain",
    "danish": "denmark",
    "dane": "denmark",
    "danes": "denmark",
    "finnish": "finland",
    "finn": "finland",
    "polish": "poland",
    "pole": "poland",
    "poles": "poland",
    "thai": "thailand",
    "filipino": "philippines",
    "philippine": "philippines",
    "greek": "greece",
    "turkish": "turkey",
    "peruvian": "peru",
    "norwegian": "norway",
    "icelandic": "iceland",
    "lebanese": "lebanon",
    "afghan": "afghanistan",
    "pakistani": "pakistan",
    "kazakh": "kazakhstan",
    "uzbek": "uzbekistan",
    "saudi": "saudi",
    "emirati": "emirates",
    "kiwi": "zealand",
}
# What may differ at the end of two forms of one word: demonyms, inflections, derivations.
_ENDINGS = frozenset(
    "| |a|e|y|n|an|ian|ean|en|ese|ish|i|is|ic|ics|ite|ites|er|ers|or|ors|s|es|ed|ing|ings|"
    "ment|ments|ion|ions|ation|ations|al|ally|ly|ity|ies|ied|ist|ists|ism|ans|ians".split("|")
)
_MIN_STEM = 4


def _stem(word: str) -> str:
    return word if word.startswith("#") else stem(word)


def _place(word: str) -> str:
    return _DEMONYMS.get(word, word)


def _same_word(a: str, b: str) -> bool:
    """Two forms of one word: a shared stem of at least four letters whose endings are
    both inflections or demonym endings (Sweden/Swedish, Iran/Iranian, China/Chinese)."""
    if a.startswith("#") or b.startswith("#"):
        return a == b
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n >= _MIN_STEM and a[n:] in _ENDINGS and b[n:] in _ENDINGS


class WordSet:
    """The words of a source sentence, answering "does it hold this word in some form?"."""

    __slots__ = ("_by_prefix", "_joined", "_stems", "words")

    def __init__(self, text: str, *, extra: str = "") -> None:
        raw = _words(text)
        self.words = {w for w in raw if w}
        for w in _words(extra):
            self.words.add(w)
        self._stems = {_stem(w) for w in self.words} | {_place(w) for w in self.words}
        # "cracked down" holds "crackdown"; "fund raising" holds "fundraising"
        pairs = list(itertools.pairwise(raw))
        self._joined = {_stem(a) + b for a, b in pairs} | {a + b for a, b in pairs}
        self._by_prefix: dict[str, list[str]] = {}
        for w in self.words:
            if len(w) >= _MIN_STEM and not w.startswith("#"):
                self._by_prefix.setdefault(w[:_MIN_STEM], []).append(w)

    def has(self, word: str) -> bool:
        """True when the sentence holds `word` in some form."""
        if word in self.words:
            return True
        if word.startswith("#"):
            return False
        stem = _stem(word)
        if stem in self._stems or _place(word) in self._stems or word in self._joined:
            return True
        if stem in self._joined:
            return True
        return any(_same_word(word, w) for w in self._by_prefix.get(word[:_MIN_STEM], ()))

    def share(self, words: list[str] | set[str]) -> float:
        """The share of `words` the sentence holds (1.0 for none)."""
        words = set(words)
        if not words:
            return 1.0
        return sum(1 for w in words if self.has(w)) / len(words)
