"""Words as search and answering compare them: one word pattern, one stop-word list and
one stemmer (Snowball English), so that BM25, sentence ranking and support checks agree on
what a word is."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

__all__ = ["STOPWORDS", "WORD", "stem", "tokenize", "words"]

# A number (with its decimal or thousands marks and a percent sign) or a run of letters
# (with an inner apostrophe: don't, O'Brien).
WORD = re.compile(r"[0-9]+(?:[.,][0-9]+)*%?|[^\W\d_]+(?:['’][^\W\d_]+)?", re.UNICODE)

# English function words, and the words every news question and report is full of.
STOPWORDS = frozenset(
    """a an the and or but if then else of to in on at by for with from into onto about as
    is are was were be been being am do does did done has have had having will would shall
    should can could may might must it its it's this that these those there here which who
    whom whose what when where why how i me my we our you your he him his she her they them
    their not no nor so than too very just also only over under after before up down out off
    again further once all any both each few more most other some such own same s t said says
    according one new news week year years ago recently latest""".split()
)


@lru_cache(maxsize=1)
def _stemmer() -> Any:
    import Stemmer

    return Stemmer.Stemmer("english")


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """The Snowball stem of a lower-case word (partnering, partners -> partner)."""
    return str(_stemmer().stemWord(word))


def words(text: str) -> list[str]:
    """The words of `text`, lower case, curly apostrophes straightened, "'s" dropped."""
    return [w.lower().replace("’", "'").removesuffix("'s") for w in WORD.findall(text)]


def tokenize(text: str) -> list[str]:
    """The stems of `text`'s words without stop words or single letters (numbers kept)."""
    kept = [w for w in words(text) if (w not in STOPWORDS and len(w) > 1) or w.isdigit()]
    return list(_stemmer().stemWords(kept))
