"""Sentence splitting and chunking: offsets always slice the body back to the chunk."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from index import Article, chunk_article, split_sentences
from index.chunking import chunk_spans, embedding_text

SEED_LIKE = (
    "Ascend Elements, an American company, has agreed to collaborate with GEM Co., a Chinese "
    "company. Mr. Austin said the deal is a milestone. The U.S. market grew 2.5% in Q1!\n\n"
    '"We are delighted," said Prof. Xu. J. K. Rowling was not involved. Is it big? Yes.'
)


def test_sentences_respect_abbreviations_initials_and_decimals():
    spans = split_sentences(SEED_LIKE)
    sentences = [SEED_LIKE[s:e] for s, e in spans]
    assert sentences == [
        "Ascend Elements, an American company, has agreed to collaborate with GEM Co., a Chinese company.",
        "Mr. Austin said the deal is a milestone.",
        "The U.S. market grew 2.5% in Q1!",
        '"We are delighted," said Prof. Xu.',
        "J. K. Rowling was not involved.",
        "Is it big?",
        "Yes.",
    ]


def test_blank_lines_end_sentences_even_without_punctuation():
    text = "A headline without a stop\n\nThe body starts here. It goes on."
    assert [text[s:e] for s, e in split_sentences(text)] == [
        "A headline without a stop",
        "The body starts here.",
        "It goes on.",
    ]


def _article(body: str) -> Article:
    return Article(id="a", title="T", body=body)


def test_chunks_fit_the_budget_overlap_and_cover_every_sentence():
    sentence = "This sentence has exactly eight words in it. "
    body = sentence * 60  # 480 words
    chunks = chunk_article(_article(body), max_words=100)
    assert len(chunks) >= 5
    for chunk in chunks:
        assert chunk.text == body[chunk.start : chunk.end]
        assert len(chunk.text.split()) <= 100
    for before, after in itertools.pairwise(chunks):
        assert after.start < before.end, "consecutive chunks overlap by a sentence or two"
        assert after.end > before.end, "every chunk moves forward"
    covered = {
        (s, e) for c in chunks for s, e in split_sentences(body) if c.start <= s and e <= c.end
    }
    assert covered == set(split_sentences(body))


def test_an_overlong_sentence_stands_alone_uncut():
    long = "Word " + "word " * 299 + "end."
    body = f"Short one. {long} Short two."
    chunks = chunk_article(_article(body), max_words=50)
    assert any(c.text == long.strip() for c in chunks)


def test_title_and_date_are_embedded_but_not_in_offsets():
    from datetime import date

    article = Article(id="a", title="Big deal", body="One. Two.", published_at=date(2025, 11, 4))
    chunk = chunk_article(article)[0]
    assert embedding_text(article, chunk).startswith("Big deal (2025-11-04)\n")
    assert (chunk.start, chunk.end) == (0, len("One. Two."))


_text = st.lists(
    st.sampled_from([*"abcXYZ .!?\n\"'”’()[]0123456789,;-", "Mr.", "U.S.", " ", "\n\n"]),
    max_size=300,
).map("".join)


@settings(max_examples=300, deadline=None)
@given(_text, st.integers(min_value=1, max_value=60))
def test_offsets_always_slice_the_body_back_to_the_chunk(body, max_words):
    for chunk in chunk_article(_article(body), max_words=max_words):
        assert chunk.text == body[chunk.start : chunk.end]
        assert chunk.text == chunk.text.strip() and chunk.text


@settings(max_examples=300, deadline=None)
@given(_text)
def test_sentences_are_ordered_disjoint_trimmed_and_cover_all_words(body):
    spans = split_sentences(body)
    last_end = 0
    for start, end in spans:
        assert last_end <= start < end <= len(body)
        assert body[start:end] == body[start:end].strip()
        last_end = end
    words = "".join(body[s:e] for s, e in spans).split()
    assert "".join(words) == "".join(body.split())


@settings(max_examples=200, deadline=None)
@given(_text, st.integers(min_value=1, max_value=40))
def test_chunks_never_cut_a_sentence(body, max_words):
    sentences = split_sentences(body)
    for start, end in chunk_spans(body, max_words=max_words):
        assert any(s == start for s, _ in sentences)
        assert any(e == end for _, e in sentences)
