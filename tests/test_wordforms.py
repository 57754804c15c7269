"""Word forms a faithful paraphrase uses: names in another form, inflections, compounds and
numbers written differently all count as the same word; different words do not."""

from __future__ import annotations

import pytest

from assistant.wordforms import WordSet, canonical_numbers, claim_words, key_words


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("It cost $1.5bn.", "It cost 1.5 billion dollars."),
        ("It cost $1.5bn.", "It cost $1,500,000,000."),
        ("Up 20%.", "Up 20 percent."),
        ("Up 20%.", "Up 20 per cent."),
        ("Five people died.", "5 people died."),
        ("A $3.5m grant.", "A 3.5 million grant."),
        ("It hired 1,200 staff.", "It hired 1200 staff."),
    ],
)
def test_numbers_written_differently_are_the_same_token(a, b):
    numbers = [w for w in claim_words(a) if w.startswith("#")]
    assert numbers and numbers == [w for w in claim_words(b) if w.startswith("#")]


def test_different_numbers_stay_different():
    assert canonical_numbers("1.5 billion") != canonical_numbers("1.5 million")
    assert not WordSet("It cost 1.5 million dollars.").has(claim_words("$1.5bn")[0])
    assert not WordSet("Up 20 percent.").has(claim_words("20")[0])  # a share is not a count


@pytest.mark.parametrize(
    ("sentence", "word"),
    [
        ("Swedish battery maker Northvolt filed for bankruptcy.", "sweden"),
        ("Sweden's Northvolt filed for bankruptcy.", "swedish"),
        ("Saudi Arabian officials met on Monday.", "arabia"),
        ("Iranian government officials have cracked down on toys.", "iran"),
        ("Iranian government officials have cracked down on toys.", "crackdown"),
        ("Chinese group GEM recycles batteries.", "china"),
        ("The French government said so.", "france"),
        ("The Dutch government said so.", "netherlands"),
        ("British lawmakers voted.", "britain"),
        ("The company announced a partnership.", "announcement"),
        ("The companies are partnering.", "partners"),
    ],
)
def test_a_sentence_holds_other_forms_of_a_word(sentence, word):
    assert WordSet(sentence).has(word)


@pytest.mark.parametrize(
    ("sentence", "word"),
    [
        ("Swedish battery maker Northvolt filed for bankruptcy.", "switzerland"),
        ("GEM is partnering with Ascend Elements.", "tesla"),
        ("The firm sold its stake.", "stakeholders"),
        ("Austria joined the talks.", "australia"),
    ],
)
def test_a_sentence_does_not_hold_a_different_word(sentence, word):
    assert not WordSet(sentence).has(word)


def test_names_and_figures_are_the_key_words_of_a_claim():
    keys = key_words("On 12 June 2022, Saudi Arabian officials said it cost $1.5bn.")
    assert keys == {"#12", "june", "#2022", "saudi", "arabian", "#1500000000"}
    # The first word, and short acronyms, are not taken for names.
    assert key_words("GEM said the CEO left.") == set()


def test_article_context_counts_only_where_asked():
    sentence = WordSet("Shares rose 30% on the news.", extra="Example Times 5 March 2024")
    assert sentence.has("march") and sentence.has("#2024")
    assert not WordSet("Shares rose 30% on the news.").has("march")
