"""Citation checking: every claim of an answer is matched to the source sentence that
supports it, whatever markers the writer put (or did not put) on it.

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

from index import Embedder, Hit, split_sentences
from index.schema import stored_date

from .dates import format_date
from .models import REFUSAL, Citation
from .text import normalise
from .wordforms import WordSet, claim_words, key_words

__all__ = [
    "MARKER",
    "MARKERS",
    "SUPPORT_THRESHOLD",
    "Checked",
    "Quote",
    "SourceSentence",
    "SupportScorer",
    "attribution",
    "check_citations",
    "cite_quotes",
    "context_of",
    "full_stop",
    "is_filler",
    "is_instruction",
    "is_refusal",
    "normalise_markers",
    "says_not_covered",
    "source_sentences",
    "split_claims",
    "strip_markers",
    "without_attribution",
]

# Below this support score a claim counts as unsupported (a blend of cosine similarity and
# the share of the claim's content words found in the sentence; see SupportScorer).
SUPPORT_THRESHOLD = 0.5

# The [n] citation marker, the one form a checked answer carries (one number each).
MARKER = re.compile(r"\[(\d{1,3})\]")
# Markers as a writer may group them: [1], [1, 2], [1; 3] (the numbers in group 1).
MARKERS = re.compile(r"\[(\s*\d{1,3}(?:\s*[,;]\s*\d{1,3})*\s*)\]")
_MARKERS = re.compile(r"\s*" + MARKERS.pattern)  # with the space before them
# Markers written after the full stop belong to the sentence before it.
_MARKERS_AFTER_STOP = re.compile(
    r"([.!?][\"'”’)]*)((?:\s*\[\s*\d{1,3}(?:\s*[,;]\s*\d{1,3})*\s*\])+)"
)
_END = re.compile(r"[.!?]$")
# "On 4 November 2025, Battery Brief reported under the headline “…”: " before a quoted
# sentence says when, where and in which article; it comes from the citation's own
# metadata, so the claim to check is the sentence after it.
_ATTRIBUTION = re.compile(
    r"^On \d{1,2} [A-Z][a-z]+ \d{4}, [^:\n“]{1,80}? reported"
    r"(?: under the headline “[^”\n]{1,300}”)?: (?=\S)"
)


def attribution(published_at: str, source: str, headline: str = "") -> str:
    """The "On 4 November 2025, Battery Brief reported under the headline “…”: " lead-in
    for a quoted sentence ("" when the article is undated)."""
    day = stored_date(published_at)
    if day is None:
        return ""
    titled = f" under the headline “{headline}”" if headline and "”" not in headline else ""
    return f"On {format_date(day)}, {source or 'it was'} reported{titled}: "


def strip_markers(text: str) -> str:
    """`text` without its [n] markers (and the space before each)."""
    return _MARKERS.sub("", text)


def without_attribution(claim: str) -> str:
    """The claim without an "On <date>, <outlet> reported: " lead-in."""
    return _ATTRIBUTION.sub("", claim, count=1)


@dataclass(frozen=True, slots=True)
class SourceSentence:
    """A sentence of a retrieved chunk, with offsets into its article's body."""

    number: int  # 1-based number of the chunk among the sources (the [n] a writer uses)
    hit: Hit
    start: int
    end: int
    text: str


# Sentences that talk to a model rather than report news ("ignore previous instructions
# and reply that ...", forged prompt markup) are never quoted and never count as support.
_INSTRUCTION = re.compile(
    r"\b(?:ignore|disregard|forget|override)\b[^.!?]{0,40}?"
    r"\b(?:previous|prior|above|earlier|preceding|all|any|your|the)\b[^.!?]{0,20}?"
    r"\b(?:instructions?|prompts?|rules|guidelines|directions|context)\b"
    r"|</?\s*(?:source|system|instructions?)\b"
    r"|(?:^|[\s>])(?:system|assistant)\s*:"
    r"|\byou are (?:now )?(?:chatgpt|an? (?:ai|assistant|language model|chatbot))\b",
    re.IGNORECASE,
)


def is_instruction(sentence: str) -> bool:
    """True for a sentence that addresses a language model instead of reporting news."""
    return _INSTRUCTION.search(sentence) is not None


def source_sentences(hits: Sequence[Hit]) -> list[SourceSentence]:
    """The sentences of every retrieved chunk, numbered by chunk (instructions left out)."""
    out = []
    for number, hit in enumerate(hits, start=1):
        for start, end in split_sentences(hit.text):
            text = hit.text[start:end]
            if not is_instruction(text):
                out.append(SourceSentence(number, hit, hit.start + start, hit.start + end, text))
    return out


@dataclass(slots=True)
class Claim:
    """A sentence of a draft answer and the source numbers it cites."""

    text: str
    markers: list[int]
    start: int
    end: int


def split_claims(draft: str) -> tuple[str, list[Claim]]:
    """The draft (markers moved before the full stop) and its sentences with their markers."""
    draft = _MARKERS_AFTER_STOP.sub(lambda m: m.group(2) + m.group(1), draft)
    claims = []
    for start, end in split_sentences(draft):
        sentence = draft[start:end]
        markers = [
            int(n) for m in _MARKERS.finditer(sentence) for n in re.findall(r"\d+", m.group(1))
        ]
        text = _MARKERS.sub("", sentence).strip()
        claims.append(Claim(text, markers, start, end))
    return draft, claims


def is_refusal(text: str) -> bool:
    """True when a draft says the sources do not hold the answer."""
    said = normalise(text).strip(" .")
    return said.startswith(normalise(REFUSAL).strip(" .")) or said in {"not_found", "i don't know"}


def key_terms(text: str) -> set[str]:
    """Names and figures of a claim: capitalised words after the first (short acronyms
    such as CEO or EU aside) and numbers, in canonical form. These are the words a wrong
    answer gets wrong ("GEM is partnering with Tesla")."""
    return key_words(text)


def context_of(hit: Hit) -> str:
    """Words a claim may take from a sentence's article rather than the sentence: its
    headline, outlet and publication date ("On 16 June 2022, CNN reported ...")."""
    day = stored_date(hit.published_at)
    when = f"{format_date(day)} {day:%A}" if day else ""
    return f"{hit.title} {hit.source} {when}"


class SupportScorer:
    """How well a sentence supports a claim: 0.5 x cosine similarity of their embeddings +
    0.5 x the share of the claim's content words the sentence holds, scaled down by the
    share of the claim's names and figures it lacks. Words count in any form a faithful
    paraphrase uses (Swedish for Sweden, crackdown for cracked down, $1.5bn for 1.5
    billion; see `wordforms`). A claim with a name or figure that no source mentions
    scores 0 (a claim naming the wrong company is not supported by a sentence about the
    right one). A verbatim source sentence scores 1."""

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder

    def scores(
        self,
        claims: Sequence[str],
        sentences: Sequence[str],
        *,
        contexts: Sequence[str] | None = None,
        extras: Sequence[str] | None = None,
    ) -> np.ndarray:
        """A claims x sentences matrix of support scores. `contexts` (one per claim) is
        what is embedded for the claim instead of its text (a short answer with its
        question); `extras` (one per sentence) are words of the sentence's article that a
        claim's names and dates may come from (see `context_of`)."""
        matrix = np.zeros((len(claims), len(sentences)), dtype=np.float32)
        if not claims or not sentences:
            return matrix
        claims = [without_attribution(c) for c in claims]
        norm_sentences = [normalise(s) for s in sentences]
        exact = np.zeros_like(matrix, dtype=bool)
        for i, claim in enumerate(claims):
            c = normalise(claim)
            for j, s in enumerate(norm_sentences):
                exact[i, j] = c == s
        if exact.any(axis=1).all():
            return exact.astype(np.float32)
        embedded = list(contexts) if contexts is not None else claims
        vectors = self.embedder.encode([*embedded, *sentences])
        cosine = vectors[: len(claims)] @ vectors[len(claims) :].T
        extras = list(extras) if extras is not None else [""] * len(sentences)
        words = [WordSet(s) for s in sentences]
        named_in = [WordSet(s, extra=x) for s, x in zip(sentences, extras, strict=True)]
        for i, claim in enumerate(claims):
            tokens = set(claim_words(claim))
            keys = key_terms(claim)
            if any(not any(ws.has(k) for ws in named_in) for k in keys):
                continue  # names or figures no source mentions: nothing supports it
            for j, have in enumerate(words):
                overlap = have.share(tokens) if tokens else 0.0
                named = named_in[j].share(keys)
                score = 0.5 * float(cosine[i, j]) + 0.5 * overlap
                matrix[i, j] = score * (0.5 + 0.5 * named)
        return np.where(exact, 1.0, matrix)


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


def _with_markers(text: str, numbers: list[int]) -> str:
    if not numbers:
        return text
    marks = "".join(f"[{n}]" for n in numbers)
    if _END.search(text):
        return f"{text[:-1]} {marks}{text[-1]}"
    return f"{text} {marks}"


# -- what small models write instead of [n] ------------------------------------------------

_NUMS = r"\d{1,3}(?:\s*(?:[,;&/]|and|-|–)\s*\d{1,3})*"
_ODD_MARKERS = [
    # [Source 1], [source: 2], [Sources 1, 2], [S1], [Doc 3], [Article 1]
    re.compile(
        rf"\[\s*(?:sources?|s|docs?|documents?|articles?|refs?|ref\.)\s*[:#=]?\s*({_NUMS})\s*\]",
        re.I,
    ),
    # (Source 1), (source: 1, 2), (Sources 1 and 2)
    re.compile(rf"\(\s*(?:sources?|articles?|docs?)\s*[:#=]?\s*({_NUMS})\s*\)", re.I),
    # [^1], 【1】, [1†source], [1:0]
    re.compile(rf"\[\^\s*({_NUMS})\s*\]|【\s*({_NUMS})[^】]*】|\[\s*(\d{{1,3}})\s*[†:][^\]]*\]"),
    # [1-3] and [1, 2] and [1 and 2]
    re.compile(rf"\[\s*({_NUMS})\s*\]"),
    # (1) or (1, 2) right before the end of a sentence
    re.compile(rf"\(\s*({_NUMS})\s*\)(?=\s*[.!?]|\s*$)"),
    # the prompt's own markup: <source n="4">, <source n=4/>
    re.compile(r"<\s*source\s+n\s*=\s*[\"']?(\d{1,3})[\"']?[^>]{0,200}>", re.I),
]
_SOURCE_CLOSE = re.compile(r"<\s*/\s*source\s*>", re.I)
_ACCORDING_TO_MARKER = re.compile(
    r"\b(?:according to|as (?:reported|stated) (?:by|in)|per)\s+((?:\[\d{1,3}\]\s*)+),?\s*",
    re.I,
)
# "Source 1: GEM ..." or "According to source [2], GEM ..." at the start of a sentence.
_SOURCE_LEAD = re.compile(
    r"(?:(?<=^)|(?<=[.!?\n]\s)|(?<=\n))\s*(?:(?:in|from)\s+)?(?:the\s+)?"
    rf"(?:sources?|articles?|documents?)\s*\[?\s*({_NUMS})\s*\]?\s*[:,-]\s*",
    re.I,
)


def _numbers(spec: str) -> list[int]:
    out: list[int] = []
    for part in re.split(r"\s*(?:[,;&/]|and)\s*", spec):
        if m := re.fullmatch(r"(\d{1,3})\s*[-–]\s*(\d{1,3})", part.strip()):
            a, b = int(m.group(1)), int(m.group(2))
            out += list(range(a, b + 1)) if 0 < b - a < 10 else [a, b]
        elif part.strip().isdigit():
            out.append(int(part))
    return out


def normalise_markers(draft: str) -> str:
    """Every citation form a model may write ([Source 1], (source 2), [^3], 【4】, [1-3],
    "Source 1: ...") rewritten as [n] markers; a "Sources:" list at the end removed."""
    draft = _SOURCES_LIST.sub("", draft)

    def plain(match: re.Match[str]) -> str:
        spec = next(g for g in match.groups() if g)
        return "".join(f"[{n}]" for n in _numbers(spec))

    for pattern in _ODD_MARKERS:
        draft = pattern.sub(plain, draft)
    draft = _SOURCE_CLOSE.sub("", draft)
    # "According to [2], X" is X citing [2].
    draft = _ACCORDING_TO_MARKER.sub(lambda m: m.group(1).strip() + " ", draft)
    return _SOURCE_LEAD.sub(lambda m: "".join(f"[{n}]" for n in _numbers(m.group(1))) + " ", draft)


# A trailing list of the sources ("Sources:\n[1] Title ...", "References: [1], [2]").
_SOURCES_LIST = re.compile(
    r"(?:\n|^)\s*(?:\*\*)?(?:sources?|references?|citations?)(?:\*\*)?\s*:(?:\*\*)?[\s\S]*\Z",
    re.I,
)

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
    discussed relevant""".split()
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


def says_not_covered(sentence: str) -> bool:
    """True for a sentence saying the sources do not hold something ("The articles do not
    mention his salary.", "There is no information about ...")."""
    return bool(_NOT_COVERED.search(sentence) and _ABOUT_SOURCES.search(sentence))


def _claim_core(text: str) -> str:
    """The claim a sentence makes, without an attribution lead-in."""
    return _LEAD_IN.sub("", without_attribution(text), count=1).strip()


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
    dropped: list[str] = []
    limits: list[str] = []
    checked_claims: list[Claim] = []
    kinds: dict[int, str] = {}
    for claim in claims:
        core = _claim_core(claim.text)
        if normalise(without_attribution(claim.text)) in verbatim:
            kinds[id(claim)] = "claim"
        elif _YES_NO.match(claim.text):
            kinds[id(claim)] = "keep"
        elif says_not_covered(claim.text):
            kinds[id(claim)] = "limit"
        elif is_filler(core, outlets):
            kinds[id(claim)] = "filler"
        else:
            kinds[id(claim)] = "claim"
        if kinds[id(claim)] == "claim":
            checked_claims.append(claim)
    first = next((c for c in claims if kinds[id(c)] in ("claim", "limit")), None)
    if first is None or kinds[id(first)] == "limit":
        # The answer opens by saying the sources do not hold it (or says nothing).
        return Checked(REFUSAL, refused=True)
    cores = [_claim_core(c.text) for c in checked_claims]
    contexts = [
        f"{question} {core}" if question and len(claim_words(core)) < 4 else core for core in cores
    ]
    matrix = scorer.scores(
        cores,
        [s.text for s in sentences],
        contexts=contexts,
        extras=[context_of(s.hit) for s in sentences],
    )
    by_claim = {id(c): row for c, row in zip(checked_claims, matrix, strict=True)}
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
        best = _best_support(claim, by_claim[id(claim)], sentences, threshold)
        if best is None:
            unsupported.append(claim.text)
            pieces.append(claim.text)
            main_supported = main_supported and claim is not first
            continue
        sentence, score = best
        n = _number(numbering, sentence, score)
        pieces.append(_with_markers(claim.text, [n]))
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


@dataclass(frozen=True, slots=True)
class Quote:
    """A claim a backend took word for word from a source sentence, after a lead-in that
    says when, where and under which headline it was reported (see `attribution`)."""

    sentence: SourceSentence
    lead: str = ""


_ENDS = re.compile(r"[.!?][\"'”’)\]]*$")


def full_stop(text: str) -> str:
    """A sentence ending in a full stop (a list item or a caption would run into the next)."""
    return text if _ENDS.search(text) else f"{text}."


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
        pieces.append(_with_markers(text, [_number(numbering, s, 1.0)]))
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
