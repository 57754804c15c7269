"""The web UI's HTML and its stored conversation, without a browser: escaping, safe links,
citation chips, flags, the source viewer's highlight, and what a tampered browser may send."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

from assistant.core import IndexStats
from assistant.models import Answer, Citation
from assistant.ui.chat import ChatTurn, Filters, dump_turns, load_turns
from assistant.ui.errors import toast
from assistant.ui.handlers import api_history
from assistant.ui.render import (
    render_answer,
    render_article_list,
    render_draft,
    render_error,
    render_ingest,
    render_messages,
    render_pending,
    render_stats,
    render_status,
    render_user,
    render_viewer,
    render_viewer_missing,
    safe_url,
)
from assistant.ui.uploads import MAX_NAME_BYTES, safe_upload_name
from index import ArticleRecord, UsageError

EVIL = "<script>alert(1)</script><img src=x onerror=alert(1)>"
BODY = (
    "GEM Co. is partnering with Ascend Elements to build a recycling network.\n\n"
    "Ascend Elements is a US company. GEM is a Chinese group."
)
QUOTE = "GEM is a Chinese group."


def citation(**overrides) -> Citation:
    fields = dict(
        n=1,
        article_id="https://example.com/gem",
        title="GEM and Ascend team up",
        source="Battery Brief",
        published_at="2025-11-04",
        url="https://example.com/gem",
        quote=QUOTE,
        start=BODY.index(QUOTE),
        end=BODY.index(QUOTE) + len(QUOTE),
        score=0.9,
    )
    fields.update(overrides)
    return Citation(**fields)  # type: ignore[arg-type]


def record(**overrides) -> ArticleRecord:
    fields = dict(
        id="https://example.com/gem",
        title="GEM and Ascend team up",
        source="Battery Brief",
        published_at="2025-11-04",
        url="https://example.com/gem",
        authors=(),
        path="/data/uploads/gem.md",
        content_hash="h",
        fingerprint="f",
        file_hash="x",
        chunk_ids=("c1",),
        chars=len(BODY),
    )
    fields.update(overrides)
    return ArticleRecord(**fields)  # type: ignore[arg-type]


def turn(answer_text: str, citations: list[Citation], **kw) -> ChatTurn:
    answer = Answer(
        question=kw.pop("question", "Who is GEM?"),
        answer=answer_text,
        refused=kw.pop("refused", False),
        backend="extractive",
        citations=citations,
        unsupported=kw.pop("unsupported", []),
        standalone_question=kw.pop("standalone", ""),
    )
    return ChatTurn(answer.question, answer, kw.pop("filters", Filters()))


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "JavaScript:alert(1)",
        " javascript:alert(1)",
        "java\tscript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "vbscript:msgbox(1)",
        "//evil.example.com/x",
        "https://exa mple.com",
        "http:///nohost",
        "",
    ],
)
def test_only_http_urls_become_links(url):
    assert safe_url(url) is None
    html = render_viewer(citation(url=url), turn=0, record=None, body=None)
    assert "<a " not in html


def test_http_urls_open_in_a_new_tab_escaped():
    url = 'https://example.com/a?b=1&c="x"'
    assert safe_url(url) == url
    html = render_viewer(citation(url=url), turn=0, record=record(url=url), body=BODY)
    assert 'href="https://example.com/a?b=1&amp;c=&quot;x&quot;"' in html
    assert 'target="_blank" rel="noopener noreferrer nofollow"' in html


def test_markers_become_chips_that_point_at_their_turn_and_source():
    cites = [citation(n=1), citation(n=2, quote="Other.", title="Second")]
    html = render_answer(
        turn("GEM partners with Ascend [1]. It is Chinese [2]. Odd [7].", cites), 3
    )
    assert html.count('class="cite-chip" href="#src-3-1"') == 2  # in the text and the list
    assert html.count('class="cite-chip" href="#src-3-2"') == 2
    assert "[7]" in html and "#src-3-7" not in html  # a marker with no citation stays text
    sources = html[html.index('class="sources"') :]
    assert "GEM and Ascend team up" in sources and "Second" in sources
    assert "Battery Brief · 4 Nov 2025" in sources


def test_untrusted_titles_quotes_and_answers_are_escaped():
    bad = citation(title=EVIL, source=EVIL, quote=EVIL)
    html = render_answer(turn(f"Claim {EVIL} [1].", [bad]), 0)
    assert "&lt;script&gt;" in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<script" not in html and not re.search(r"<img\b", html)
    assert "<script" not in render_user(EVIL)
    assert "<script" not in render_draft(f"{EVIL} [1]")


def test_every_template_shows_hostile_titles_and_names_as_text():
    stats = IndexStats(
        articles=1, chunks=2, sources={EVIL: 1}, embedding_model=EVIL, store=EVIL, backend=EVIL
    )
    hostile = record(title=EVIL, source=EVIL, id=EVIL)
    pages = [
        render_stats(stats, outlets=1),
        render_status(EVIL, 1, 1),
        render_viewer_missing(EVIL),
        render_error(EVIL),
        render_pending(EVIL),
        render_article_list([hostile]),
        render_article_list([hostile], EVIL),
        render_viewer(citation(title=EVIL, source=EVIL, url=EVIL), turn=0, record=None, body=None),
        render_answer(turn(EVIL, [citation(title=EVIL)], refused=True), 0),
    ]
    for html in pages:
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html, html
        assert "<script" not in html and not re.search(r"<img\b", html), html


def test_refused_and_unsupported_answers_are_flagged():
    refused = render_answer(turn("The indexed articles do not cover this.", [], refused=True), 0)
    assert "flag-refused" in refused and "Not answered" in refused
    assert 'class="sources"' not in refused

    text = "GEM partners with Ascend [1]. The deal was signed on the Moon."
    html = render_answer(
        turn(text, [citation()], unsupported=["The deal was signed on the Moon."]), 0
    )
    assert "flag-unsupported" in html and "1 sentence" in html
    marked = re.search(r'<span class="unsupported"[^>]*>(.*?)</span>', html)
    assert marked and marked.group(1) == "The deal was signed on the Moon."


def test_an_unsupported_llm_answer_is_flagged_with_what_it_said():
    t = turn("GEM partners with Ascend [1].", [citation()])
    t.answer.unsupported = ["GEM is partnering with <Tesla>."]
    t.answer.quoted_instead = True
    html = render_answer(t, 0)
    assert (
        "Not supported:" in html
        and "the LLM answered “GEM is partnering with &lt;Tesla&gt;.”" in html
    )
    assert "underlined" not in html  # its sentences are not in the text shown
    assert 'class="unsupported"' not in html


def test_notes_of_the_answer_are_shown_escaped():
    t = turn("GEM partners with Ascend [1].", [citation()])
    t.answer.notes = ["the LLM was unavailable, so this answer quotes the articles: <b>500</b>"]
    html = render_answer(t, 0)
    assert "flag-note" in html
    assert (
        "The LLM was unavailable, so this answer quotes the articles: &lt;b&gt;500&lt;/b&gt;."
        in html
    )


def test_the_answer_says_which_filters_and_search_it_used():
    filters = Filters.parse(["Battery Brief"], "2025-01-01", None)
    html = render_answer(
        turn(
            "GEM partners with Ascend [1].",
            [citation()],
            question="And when?",
            standalone="Who is GEM partnering with? And when?",
            filters=filters,
        ),
        0,
    )
    assert "Only: Battery Brief · from 1 Jan 2025" in html
    assert "Searched for: “Who is GEM partnering with? And when?”" in html


def test_the_viewer_marks_exactly_the_quoted_sentence():
    html = render_viewer(citation(), turn=1, record=record(), body=BODY)
    marked = re.search(r"<mark[^>]*>(.*?)</mark>", html, re.S)
    assert marked and marked.group(1) == QUOTE
    assert "Source 1 of answer 2" in html and "Open the original" in html
    assert "GEM Co. is partnering" in html  # the text around the quote is shown too


def test_the_viewer_shows_a_window_of_a_long_article():
    body = ("Filler sentence number one. " * 400) + QUOTE + (" More filler text here." * 400)
    start = body.index(QUOTE)
    html = render_viewer(
        citation(start=start, end=start + len(QUOTE)), turn=0, record=record(), body=body
    )
    assert re.search(r"<mark[^>]*>GEM is a Chinese group\.</mark>", html)
    assert len(html) < 6000 and "around the quote" in html


def test_the_viewer_copes_with_changed_and_removed_articles():
    moved = "New first paragraph.\n\n" + BODY
    html = render_viewer(citation(), turn=0, record=record(), body=moved)
    assert "highlighted where it is now" in html
    assert re.search(r"<mark[^>]*>GEM is a Chinese group\.</mark>", html)

    gone = render_viewer(citation(), turn=0, record=record(), body="Rewritten entirely.")
    assert "no longer contains the quoted sentence" in gone and QUOTE in gone

    removed = render_viewer(citation(title=EVIL), turn=0, record=None, body=None)
    assert "no longer in the index" in removed and QUOTE in removed
    assert "<script" not in removed


def test_escaped_article_text_in_the_viewer():
    body = f"Intro {EVIL} text. {QUOTE}"
    start = body.index(QUOTE)
    html = render_viewer(
        citation(start=start, end=start + len(QUOTE)),
        turn=0,
        record=record(title=EVIL, url="javascript:alert(1)"),
        body=body,
    )
    assert "<script" not in html and not re.search(r"<img\b", html)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "javascript:alert(1)" in html and 'href="javascript' not in html


def test_the_conversation_round_trips_through_the_browser():
    turns = [
        turn("GEM partners with Ascend [1].", [citation()], filters=Filters(("Battery Brief",))),
        turn("No.", [], refused=True),
    ]
    stored = dump_turns(turns)
    assert all("timings_ms" not in t["answer"] for t in stored)
    loaded = load_turns(stored)
    assert [t.answer.citations for t in loaded] == [[citation()], []]
    assert loaded[0].filters == Filters(("Battery Brief",))
    assert render_messages(loaded) == render_messages(turns)


@pytest.mark.parametrize(
    "garbage",
    [
        None,
        "not a list",
        [1, "x", None],
        [{"question": "q"}],
        [{"question": "q", "answer": {"answer": 5}}],
        [{"question": "q", "answer": {"answer": "a", "citations": [{"n": "1"}]}}],
        [{"question": "q", "answer": {"answer": "a"}, "filters": {"since": "yesterday"}}],
    ],
)
def test_a_tampered_conversation_is_dropped_entry_by_entry(garbage):
    good = dump_turns([turn("GEM partners with Ascend [1].", [citation()])])
    assert load_turns(garbage) == []
    if isinstance(garbage, list):
        assert len(load_turns([*garbage, *good])) == 1


def test_filters_are_checked_and_described():
    f = Filters.parse(["Grid Weekly", " ", "Grid Weekly"], "2024-01-01", "2024-12-31")
    assert f.sources == ("Grid Weekly",) and f.since == date(2024, 1, 1)
    assert f.describe() == "Grid Weekly · from 1 Jan 2024 · to 31 Dec 2024"
    assert f.search_filter() is not None and Filters().search_filter() is None
    with pytest.raises(UsageError, match="not a date"):
        Filters.parse([], "2025-13-40", None)
    with pytest.raises(UsageError, match="after"):
        Filters.parse([], "2025-02-01", "2025-01-01")


def test_the_article_list_searches_escapes_and_offers_remove():
    records = [
        record(),
        record(id="a<b>", title=EVIL, source="Evil", url="javascript:alert(1)", path="/x/evil.md"),
    ]
    html = render_article_list(records)
    assert "2 articles" in html and html.count('class="remove-article"') == 2
    assert 'data-remove="a&lt;b&gt;"' in html
    assert (
        "<script" not in html and not re.search(r"<img\b", html) and 'href="javascript' not in html
    )
    found = render_article_list(records, "battery brief")
    assert "1 of 2 articles match" in found and "GEM and Ascend team up" in found
    assert "Evil" not in found
    assert "No article matches" in render_article_list(records, "zzz")
    assert "No articles are indexed yet" in render_article_list([])


def test_ingest_results_show_each_file_with_its_status():
    rows = [
        {"file": "good.md", "status": "added", "articles": 1, "detail": ""},
        {"file": f"{EVIL}.json", "status": "failed", "articles": 0, "detail": "malformed JSON"},
    ]
    html = render_ingest(rows, {"added": 1, "chunks": 2, "seconds": 0.5})
    assert "2 files: 1 added, 1 failed" in html
    assert "badge-added" in html and "badge-failed" in html and "malformed JSON" in html
    assert "<script" not in html


def test_file_names_and_reasons_in_upload_results_and_toasts_are_text():
    name = "<b onmouseover=alert(1)>x</b> & 'q'.txt"
    rows = [{"file": name, "status": EVIL, "articles": 0, "detail": f"{EVIL} in {name}"}]
    html = render_ingest(rows, {"chunks": 0, "seconds": 0})
    assert "<b " not in html and "<script" not in html and not re.search(r"<img\b", html)
    assert "&lt;b onmouseover=alert(1)&gt;x&lt;/b&gt; &amp; &#x27;q&#x27;.txt" in html
    assert 'class="row-&lt;script&gt;' in html  # even a forged status stays inside its quotes
    shown = toast(f"1 file could not be indexed: {name}: {EVIL}")
    assert "<" not in shown and "&lt;b onmouseover=alert(1)&gt;" in shown


@pytest.mark.parametrize(
    "hostile",
    [
        "../../etc/passwd.txt",
        "/etc/cron.d/evil.txt",
        "..\\..\\windows\\evil.txt",
        "C:\\Users\\x\\evil.md",
        "..",
        ".",
        "",
        ".hidden.txt",
        "a\x00b.txt",
        "line\nbreak\r\ttab\x1b[31m.txt",
        "\u202etxt.exe",  # right-to-left override: looks like "exe.txt"
        "\uff0e\uff0e\uff0fetc\uff0fpasswd.txt",  # fullwidth ../etc/passwd
        "\u2215etc\u2215passwd.txt",  # division slash
        "e\u0301t\u00e9 caf\u00e9.md",  # combining accent and precomposed
        "\U0001f4f0 news \u65b0\u95fb.md",
        "x" * 300 + ".txt",
        "\u00e9" * 300 + ".json",
        "<script>alert(1)</script>.html",
        "name.with.many.dots.txt",
        "weird.suffix-that-is-not-one",
    ],
)
def test_upload_names_never_leave_the_upload_folder(hostile, tmp_path):
    folder = tmp_path / "uploads"
    name = safe_upload_name(hostile, set())
    assert name and name not in (".", "..") and not name.startswith((".", " "))
    assert "/" not in name and "\\" not in name
    assert not any(ord(ch) < 32 or ord(ch) == 127 for ch in name)
    assert re.fullmatch(r"[\w.\-()\[\],+&' ]+", name), name
    assert len(name.encode()) <= MAX_NAME_BYTES
    assert (folder / name).resolve().parent == folder.resolve()
    suffix = Path(hostile).suffix
    if suffix in (".txt", ".md", ".json", ".html") and len(hostile) > len(suffix) + 1:
        assert name.endswith(suffix)  # the type survives, so the loader still reads it


def test_upload_names_are_made_safe_and_unique():
    taken: set[str] = set()
    assert safe_upload_name("../../etc/passwd", taken) == "passwd"
    assert safe_upload_name("a.md", taken) == "a.md"
    assert safe_upload_name("A.md", taken) == "A-2.md"
    assert safe_upload_name("a.md", taken) == "a-3.md"
    assert safe_upload_name("..\\x<y>.md", taken) == "x_y_.md"
    assert safe_upload_name("...", taken) == "upload"
    assert safe_upload_name("Report (final), v2.txt", taken) == "Report (final), v2.txt"
    long = safe_upload_name("y" * 400 + ".txt", taken)
    again = safe_upload_name("y" * 400 + ".txt", taken)
    assert long.endswith(".txt") and again.endswith("-2.txt") and long != again
    assert len(again.encode()) <= MAX_NAME_BYTES


def test_api_history_must_be_pairs_of_strings():
    assert [
        t.question for t in api_history([["q1", "a1"], {"question": "q2", "answer": "a2"}])
    ] == [
        "q1",
        "q2",
    ]
    assert api_history(None) == []
    for bad in ("text", [["only one"]], [[1, 2]]):
        with pytest.raises(UsageError):
            api_history(bad)
