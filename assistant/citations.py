"""Citation checking: every claim of an answer is matched to the source sentence that
supports it, whatever markers the writer put (or did not put) on it; claims about the
sources themselves are dropped, and the writer's own "not covered" sentences become notes.

Sources are the retrieved chunks, numbered 1..k in the prompt. A claim's [n] markers
say where to look first; the quote comes from the stored chunk text and its offsets, so
`quote == article body[start:end]` always holds. A claim no source supports is reported
as unsupported instead of being cited.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from index import Hit

from .markers import SENTENCE_END, Claim, normalise_markers, split_claims, with_markers
from .models import REFUSAL, Citation
from .sources import Quote, SourceSentence, full_stop, source_sentences, without_attribution
from .support import SUPPORT_THRESHOLD, SupportScorer, context_of
from .text import normalise
from .wordforms import claim_words

__all__ = [
    "Checked",
    "check_citations",
    "cite_quotes",
    "is_filler",
    "is_refusal",
    "says_not_covered",
]


def is_refusal(text: str) -> bool:
    """True when a draft says the sources do not hold the answer."""
    said = normalise(text).strip(" .")
    return said.startswith(normalise(REFUSAL).strip(" .")) or said in {"not_found", "i don't know"}


@dataclass(slots=True)
class Checked:
    """A checked answer: renumbered text, its citations, the claims nothing supports.

    `main_supported` is False when the answer's first claim (its answer to the question)
    has no support: such an answer must not be presented as one. `dropped` holds sentences
    about the sources themselves ("This was reported by CNN and USA Today."), removed from
    the text; `limits` the writer's own statements that the sources leave part of the
    question open, moved out of the text into notes."""

    text: str
    refused: bool
    citations: list[Citation] = field(default_factory=list)
    unsupported: list[str] = field(default_factory=list)
    main_supported: bool = True
    dropped: list[str] = field(default_factory=list)
    limits: list[str] = field(default_factory=list)


# -- sentences that are not claims about the news -------------------------------------------

# "According to the sources, ..." / "Based on the provided articles, ..." / "The article
# states that ...": the claim is what follows.
_LEAD_IN = re.compile(
    r"^(?:(?:according to|as (?:reported|stated|mentioned) (?:by|in)|based on|per|from)\s+"
    r"(?:(?:\[\d+\]\s*)+,\s*|(?:the\s+)?(?:provided\s+|given\s+|indexed\s+|available\s+)?"
    r"(?:sources?|articles?|information|context|reports?|text|passages?|news)\b[^,]{0,60},\s*)"
    r"|(?:the\s+)?(?:provided\s+)?(?:sources?|articles?|reports?|passages?|text)\b[^,]{0,40}?\s+"
    r"(?:says?|states?|reports?|mentions?|notes?|indicates?|explains?|shows?|confirms?|"
    r"suggests?)\s+(?:that\s+)?"
    # "This information can be found in sources 1 and 3, which both state that ..."
    r"|(?:this|the)\s+(?:information|answer|fact)\b[^,]{0,60}?\b(?:sources?|articles?)\b"
    r"[^,]{0,30},?\s+(?:which|that)\s+(?:both\s+|all\s+)?(?:states?|says?|reports?|"
    r"mentions?|notes?|confirms?)\s+(?:that\s+)?)",
    re.I,
)
# Words of sentences about the sources or the conversation rather than the news.
_META = frozenset(
    """source sources article articles report reports reported reporting mention mentions
    mentioned provide provides provided information context base based multiple include
    includes including indexed state states stated text passage passages given question
    questions answer answers hope help helps let know note please sure here summary short
    conclusion overall following detail details specific specifically various several
    outlet outlets cite cited citation citations refer reference references above below
    find found available publish published coverage cover covered additional further
    read learn outline outlined describe described highlight highlighted discuss
    discussed relevant sorry apologies apologize unfortunately afraid i'm i’m""".split()
)
# The writer saying the sources do not hold (part of) the answer.
_NOT_COVERED = re.compile(
    r"\b(?:do(?:es)?|did)\s*(?:n['’]t|not)\s+(?:contain|mention|provide|include|say|specify|"
    r"state|cover|give|offer|discuss|address|have|report|indicate|reveal|disclose|tell)"
    r"|\b(?:no|not any|any)\s+(?:specific\s+|relevant\s+|further\s+|additional\s+)?"
    r"(?:information|mention|details?|data|indication|reference)\b"
    r"|\b(?:is|was|are|were)\s*(?:n['’]t|not)\s+(?:explicitly\s+|specifically\s+)?"
    r"(?:mentioned|specified|stated|provided|given|reported|covered|available|included|"
    r"disclosed|clear|known)"
    r"|\b(?:cannot|can['’]t|can not|unable to|could not|couldn['’]t)\s+(?:be\s+)?"
    r"(?:find|found|determine|determined|answer|answered|provide|tell|say|confirm|identify)"
    r"|\b(?:not|no)\s+(?:enough|sufficient)\s+information|insufficient information"
    r"|\bI\s+(?:do\s*n['’]t|do not|don’t)\s+(?:know|have)|\bnot_found\b",
    re.I,
)
_ABOUT_SOURCES = re.compile(
    r"\b(?:sources?|articles?|provided|context|passages?|texts?|indexed|information|"
    r"reports?|documents?|I|there)\b",
    re.I,
)
_YES_NO = re.compile(r"^(?:yes|no)\b[\s,.!]*$", re.I)
# Words that join two clauses ("X, while Y").
_JOINERS = "while|whereas|but|and|although|though|however"
# "The TechCrunch article suggests that ...", "while the report by The Verge focuses on
# ...": a clause that says what one report (named by its outlet, in capitals) states; its
# claim is what follows. Not "Tesla's annual report shows ...": the name is the claim's.
_REPORT_SAYS = re.compile(
    rf"^(?i:(?:{_JOINERS}),?\s+)?(?i:the)\s+"
    r"(?:[A-Z0-9][\w'’&.-]*\s+){0,5}?(?i:article|report|story|piece|coverage|op-ed|column)s?"
    r"\s+(?:(?i:from|by|in|of|on)\s+(?:the\s+)?(?:[A-Z0-9][\w'’&.-]*,?\s+){1,5}?)?"
    r"(?:[a-z][\w'’-]*\s+){0,2}?(?i:says?|states?|reports?|mentions?|notes?|indicates?|"
    r"explains?|shows?|confirms?|suggests?|argues?|claims?|highlights?|emphasi[sz]es|"
    r"discusses|describes|focuses on|raises concerns? (?:about|over|that)|points? out|"
    r"warns?|writes?|tells?|details?|reveals?)\s+(?i:that\s+)?"
    # "The TechCrunch report on Epic's lawsuit published on November 6, 2023, states that"
    rf"|^(?i:(?:{_JOINERS}),?\s+)?(?i:the)\s+"
    r"(?:[A-Z0-9][\w'’&.-]*\s+){1,5}?(?i:article|report|story|piece|coverage)s?\b"
    r"[^.;:!?\[]{0,160}?,?\s+(?i:says|states|reports|suggests|notes|indicates|shows|"
    r"confirms|reveals|mentions|explains|claims|argues|highlights|points out|warns|writes)"
    r"\s+(?i:that)\s+"
)
# Where a sentence joining two reports' claims may be cut: "X, while Y", "X; Y",
# "X, whereas Y", "X, but Y" (the separator kept with the clause before it).
_CLAUSE_CUT = re.compile(
    r"(?:;\s+|,\s+(?=(?:while|whereas|but|although|though|and\s+the\s+|and\s+that\s+)\b)"
    r"|\s+(?=(?:while|whereas)\s))",
    re.I,
)


def says_not_covered(sentence: str) -> bool:
    """True for a sentence saying the sources do not hold something ("The articles do not
    mention his salary.", "There is no information about ...")."""
    return bool(_NOT_COVERED.search(sentence) and _ABOUT_SOURCES.search(sentence))


def _claim_core(text: str) -> str:
    """The claim a sentence makes, without an attribution lead-in."""
    core = _LEAD_IN.sub("", without_attribution(text), count=1).strip()
    said = _REPORT_SAYS.sub("", core, count=1).strip()
    return said if len(claim_words(said)) >= 2 else core


def _clauses(claim: Claim) -> list[tuple[Claim, str]]:
    """A sentence that joins claims about several reports ("The TechCrunch article says
    X, while The Verge article says Y.") cut into its clauses, each with what follows it
    in the text (its separator); one clause (nothing to cut) when it is not such a
    sentence. Each clause cites what the sentence cites."""
    text = claim.text
    cuts = [m for m in _CLAUSE_CUT.finditer(text) if m.start() > 0]
    pieces: list[tuple[Claim, str]] = []
    start = 0
    for m in [*cuts, None]:
        end = m.start() if m is not None else len(text)
        separator = m.group() if m is not None else ""
        clause = text[start:end]
        if len(claim_words(_claim_core(clause))) < 2:
            return [(claim, "")]  # a fragment, not a claim: leave the sentence whole
        pieces.append((Claim(clause, claim.markers, claim.start, claim.end), separator))
        start = m.end() if m is not None else end
    return pieces


def is_filler(sentence: str, outlets: set[str]) -> bool:
    """True for a sentence about the sources or the conversation, not about the news
    ("This was reported in multiple sources including CNN.", "I hope this helps.")."""
    words = [w for w in claim_words(sentence) if w not in _META and w not in outlets]
    return not words and not _YES_NO.match(sentence.strip())


# -- checking ---------------------------------------------------------------------------------


def check_citations(
    draft: str,
    hits: Sequence[Hit],
    scorer: SupportScorer,
    *,
    question: str = "",
    threshold: float = SUPPORT_THRESHOLD,
) -> Checked:
    """Verify and renumber the citations of a draft answer against the retrieved chunks.

    Every sentence ends up cited to the source sentence that supports it best (its own
    markers say where to look first), listed as unsupported, or, when it only talks about
    the sources, dropped. A short answer ("Squid Game.") is checked together with the
    `question` it answers."""
    if not draft.strip() or is_refusal(draft) or not hits:
        return Checked(REFUSAL, refused=True)
    draft, claims = split_claims(normalise_markers(draft))
    outlets = {w for h in hits for w in claim_words(h.source)}
    sentences = source_sentences(hits)
    verbatim = {normalise(s.text) for s in sentences}
    kinds = {id(c): _kind(c.text, verbatim, outlets) for c in claims}
    cut = {id(c): _clauses(c) for c in claims}
    for c in claims:  # "X, while the other article does not mention Y": X is a claim
        if kinds[id(c)] == "limit" and _kind(cut[id(c)][0][0].text, verbatim, outlets) == "claim":
            kinds[id(c)] = "claim"
    first = next((c for c in claims if kinds[id(c)] in ("claim", "limit")), None)
    if first is None or kinds[id(first)] == "limit":
        # The answer opens by saying the sources do not hold it (or says nothing).
        return Checked(REFUSAL, refused=True)
    to_check = [c for c in claims if kinds[id(c)] == "claim"]
    rows = _support(to_check, sentences, scorer, question)
    # A sentence may join claims about several reports, each supported by its own
    # sentence (one of which may even carry the whole).
    split = {id(c): cut[id(c)] for c in to_check if len(cut[id(c)]) > 1}
    rows |= _support([p for ps in split.values() for p, _ in ps], sentences, scorer, question)
    dropped: list[str] = []
    limits: list[str] = []
    numbering: _Numbering = {}
    unsupported: list[str] = []
    pieces: list[str] = []
    cursor = 0
    main_supported = True
    for claim in claims:
        gap = draft[cursor : claim.start]
        cursor = claim.end
        kind = kinds[id(claim)]
        if kind == "filler":
            dropped.append(claim.text)
            continue
        if kind == "limit":
            limits.append(claim.text)
            continue
        pieces.append(gap if pieces else "")
        if kind == "keep":
            pieces.append(claim.text)
            continue
        best = _best_support(claim, rows[id(claim)], sentences, threshold)
        clauses = split.get(id(claim), [])
        cited = _cite_clauses(claim, clauses, best, rows, sentences, threshold, numbering)
        if cited is not None:
            pieces.append(cited)
            limits += [_on_its_own(c.text) for c, _ in clauses if says_not_covered(c.text)]
            continue
        if best is None:
            unsupported.append(claim.text)
            pieces.append(claim.text)
            main_supported = main_supported and claim is not first
            continue
        sentence, score = best
        n = _number(numbering, sentence, score)
        pieces.append(with_markers(claim.text, [n]))
    text = "".join(pieces).strip()
    if not text:
        return Checked(REFUSAL, refused=True, dropped=dropped, limits=limits)
    return Checked(
        text,
        refused=False,
        citations=list(numbering.values()),
        unsupported=unsupported,
        main_supported=main_supported and bool(numbering),
        dropped=dropped,
        limits=limits,
    )


def _cite_clauses(
    claim: Claim,
    clauses: list[tuple[Claim, str]],
    best: tuple[SourceSentence, float] | None,
    rows: dict[int, np.ndarray],
    sentences: list[SourceSentence],
    threshold: float,
    numbering: _Numbering,
) -> str | None:
    """`claim` cited clause by clause, when each of its clauses that makes a claim has its
    own supporting sentence; its clauses saying the sources leave something open are left
    out (the caller makes them notes). None: check the sentence whole (one clause, a clause
    nothing supports, or one sentence that supports it all)."""
    said = [(c, separator) for c, separator in clauses if not says_not_covered(c.text)]
    found = [b for c, _ in said if (b := _best_support(c, rows[id(c)], sentences, threshold))]
    if not said or len(found) < len(said):
        return None
    if best is not None and len(said) == len(clauses) and len({id(s) for s, _ in found}) < 2:
        return None
    pieces = []
    for (clause, separator), (sentence, score) in zip(said, found, strict=True):
        pieces += [with_markers(clause.text, [_number(numbering, sentence, score)]), separator]
    text = "".join(pieces).rstrip(" ,;")
    stop = claim.text[-1] if SENTENCE_END.search(claim.text) else ""
    return text if SENTENCE_END.search(text) or not stop else text + stop


_JOINER = re.compile(rf"^(?:{_JOINERS}),?\s+", re.I)


def _on_its_own(clause: str) -> str:
    """A clause as a sentence of its own: "while the article does not say X" -> "The
    article does not say X." """
    text = _JOINER.sub("", clause.strip()).rstrip(" ,;")
    text = text[:1].upper() + text[1:]
    return text if SENTENCE_END.search(text) else text + "."


def _kind(text: str, verbatim: set[str], outlets: set[str]) -> str:
    """What a sentence of a draft is: a `claim` to check (a verbatim source sentence always
    is), a bare yes/no to `keep`, a `limit` (the writer saying the sources do not cover
    something) or `filler` about the sources themselves."""
    if normalise(without_attribution(text)) in verbatim:
        return "claim"
    if _YES_NO.match(text):
        return "keep"
    if says_not_covered(text):
        return "limit"
    if is_filler(_claim_core(text), outlets):
        return "filler"
    return "claim"


def _support(
    claims: Sequence[Claim],
    sentences: Sequence[SourceSentence],
    scorer: SupportScorer,
    question: str,
) -> dict[int, np.ndarray]:
    """Each claim's support scores over the source sentences (by the claim's id). A short
    claim is embedded with the question it answers."""
    cores = [_claim_core(c.text) for c in claims]
    contexts = [
        f"{question} {core}" if question and len(claim_words(core)) < 4 else core for core in cores
    ]
    matrix = scorer.scores(
        cores,
        [s.text for s in sentences],
        contexts=contexts,
        extras=[context_of(s.hit) for s in sentences],
    )
    return {id(c): row for c, row in zip(claims, matrix, strict=True)}


_Numbering = dict[tuple[str, int, int], Citation]


def _number(numbering: _Numbering, sentence: SourceSentence, score: float) -> int:
    """The answer's number for a cited sentence: the next free one the first time."""
    key = (sentence.hit.article_id, sentence.start, sentence.end)
    if key not in numbering:
        hit = sentence.hit
        numbering[key] = Citation(
            n=len(numbering) + 1,
            article_id=hit.article_id,
            title=hit.title,
            source=hit.source,
            published_at=hit.published_at,
            url=hit.url,
            quote=sentence.text,
            start=sentence.start,
            end=sentence.end,
            score=round(float(score), 4),
        )
    return numbering[key].n


def cite_quotes(quotes: Sequence[Quote]) -> Checked:
    """The answer made of verbatim quotes: each cites the sentence it came from (support
    1.0), numbered in order of first appearance; no quotes is a refusal. Nothing is
    re-parsed or re-matched: a backend that quotes knows its sources."""
    if not quotes:
        return Checked(REFUSAL, refused=True)
    numbering: _Numbering = {}
    pieces = []
    for quote in quotes:
        s = quote.sentence
        text = f"{quote.lead}{full_stop(s.text)}"
        pieces.append(with_markers(text, [_number(numbering, s, 1.0)]))
    return Checked(" ".join(pieces), refused=False, citations=list(numbering.values()))


def _best_support(
    claim: Claim, row: np.ndarray, sentences: list[SourceSentence], threshold: float
) -> tuple[SourceSentence, float] | None:
    """The cited sources' best sentence if it supports the claim, else the best anywhere."""
    cited = {n for n in claim.markers if 1 <= n <= max((s.number for s in sentences), default=0)}
    if cited:
        scoped = [i for i, s in enumerate(sentences) if s.number in cited]
        if scoped:
            i = max(scoped, key=lambda j: row[j])
            if row[i] >= threshold:
                return sentences[i], float(row[i])
    i = int(np.argmax(row))
    if row[i] >= threshold:
        return sentences[i], float(row[i])
    return None
