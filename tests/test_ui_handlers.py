"""The web UI's handlers called directly, no server: a real NewsAssistant (real embedding
model, real Chroma in a temp dir) over two sample articles, answering offline."""

from __future__ import annotations

import re

import gradio as gr
import pytest
from conftest import SAMPLES

from assistant.ui.handlers import UIHandlers
from index.errors import StoreError

GEM = "Who is GEM partnering with?"
GEM_FILE = "ascend-elements-gem-recycling.md"
NORTHVOLT_FILE = "northvolt-chapter-11.md"


@pytest.fixture
def handlers(make_assistant) -> UIHandlers:
    """The handlers of an extractive assistant with two sample articles indexed."""
    assistant = make_assistant(llm="extractive")
    report = assistant.ingest([SAMPLES / GEM_FILE, SAMPLES / NORTHVOLT_FILE])
    assert report.added == 2, report.to_dict()
    return UIHandlers(assistant)


def click(**data) -> gr.EventData:
    """What the page's script sends with a click."""
    return gr.EventData(None, data)


def final_chat(handlers: UIHandlers, question: str, conversation=None, **filters):
    """Every update `respond` yields for `question`, and the last one."""
    updates = list(
        handlers.respond(
            question,
            conversation or [],
            filters.get("outlets"),
            filters.get("since"),
            filters.get("until"),
        )
    )
    return updates, updates[-1]


# -- the chat ---------------------------------------------------------------------------------


def test_a_question_streams_into_the_chat_and_ends_with_a_cited_answer(handlers):
    updates, (_, messages, stored) = final_chat(handlers, GEM)
    first_box, first_messages, _ = updates[0]
    assert first_box == ""  # the box is emptied as soon as the question is sent
    assert 'class="answer pending"' in first_messages[-1]["content"]
    assert [m["role"] for m in messages] == ["user", "assistant"]
    answer = messages[1]["content"]
    assert "Ascend Elements" in answer
    assert re.search(r'<a class="cite-chip" href="#src-0-1" title="Source 1: [^"]+">1</a>', answer)
    assert 'class="source-title"' in answer
    # What the browser stores renders the same chat again after a reload.
    assert len(stored) == 1 and stored[0]["question"] == GEM
    shown, box, ask = handlers.restore(stored)
    assert shown == messages
    assert box.interactive and ask.interactive  # the question box opens once it is shown


def test_restoring_no_kept_conversation_leaves_the_chat_as_it_is(handlers):
    # A question sent meanwhile (an example clicked at once) keeps its streaming answer.
    shown, box, _ = handlers.restore([])
    assert shown == gr.skip() and box.interactive


def test_a_follow_up_reads_the_conversation_and_appends_to_it(handlers):
    _, (_, _, stored) = final_chat(handlers, GEM)
    _, (_, messages, stored) = final_chat(handlers, "And when was that announced?", stored)
    assert len(stored) == 2 and len(messages) == 4
    assert "4 November 2025" in messages[3]["content"]
    assert 'href="#src-1-1"' in messages[3]["content"]  # chips point into the second turn


def test_an_empty_question_warns_and_changes_nothing(handlers):
    with pytest.warns(UserWarning, match="Type a question first"):
        assert list(handlers.respond("   ", [], None, None, None)) == []


def test_a_bad_filter_date_is_a_gr_error_in_words(handlers):
    with pytest.raises(gr.Error) as caught:
        final_chat(handlers, GEM, since="2025-13-40")
    assert caught.value.message == ("The 'from' date '2025-13-40' is not a date; use YYYY-MM-DD.")


def test_a_failing_answer_is_shown_in_the_chat_and_keeps_the_question(handlers, monkeypatch):
    def broken(*args, **kwargs):
        raise StoreError("the store at /x is unreachable; start it again")
        yield  # a generator, like the real stream

    monkeypatch.setattr(handlers.assistant, "stream", broken)
    with pytest.warns(UserWarning, match="The store at /x is unreachable"):
        _, (box, messages, stored) = final_chat(handlers, GEM)
    assert box == GEM
    assert "Could not answer." in messages[-1]["content"]
    assert "The store at /x is unreachable; start it again." in messages[-1]["content"]
    assert stored is not None and not isinstance(stored, list)  # gr.skip(): nothing stored


def test_an_example_click_answers_that_question(handlers):
    evt = gr.SelectData(None, {"index": 0, "value": {"text": GEM}})
    *_, (_, messages, _) = handlers.respond_example([], None, None, None, evt)
    assert "Ascend Elements" in messages[-1]["content"]


def test_a_clicked_citation_opens_its_source_with_the_quote_marked(handlers):
    _, (_, _, stored) = final_chat(handlers, GEM)
    html = handlers.open_source(stored, click(turn=0, n=1))
    quote = stored[0]["answer"]["citations"][0]["quote"]
    assert f'<mark id="cited-sentence">{quote}</mark>' in html
    assert "Source 1 of answer 1" in html
    assert "does not point to a source" in handlers.open_source(stored, click(turn="x"))
    assert "no longer in this conversation" in handlers.open_source(stored, click(turn=5, n=1))
    assert "Answer 1 has no source 9." in handlers.open_source(stored, click(turn=0, n=9))


def test_a_source_removed_since_the_answer_shows_what_the_answer_saved(handlers):
    _, (_, _, stored) = final_chat(handlers, GEM)
    handlers.remove([stored[0]["answer"]["citations"][0]["article_id"]])
    html = handlers.open_source(stored, click(turn=0, n=1))
    assert "no longer in the index" in html


def test_the_filter_box_says_what_the_next_question_is_limited_to(handlers):
    label = handlers.describe_filters(["Battery Brief"], "2025-01-01", None).label
    assert label == "Filters: Battery Brief · from 1 Jan 2025"
    assert handlers.describe_filters(None, None, None).label == "Filters: all outlets, any date"
    swapped = handlers.describe_filters(None, "2025-02-01", "2025-01-01").label
    assert swapped.startswith("Filters: The 'from' date 2025-02-01 is after the 'to' date")


# -- the index views --------------------------------------------------------------------------


def test_refresh_shows_the_index_as_it_is_now(handlers):
    status, outlets, article_list, stats = handlers.refresh(["Gone Weekly"], "")
    assert "<strong>2 articles</strong>" in status
    names = [choice[0] for choice in outlets.choices]
    assert len(names) == 2 and outlets.value == []  # an outlet no longer indexed is dropped
    assert article_list.count('class="remove-article"') == 2
    assert '<div class="stat-n">2</div><div class="stat-label">articles</div>' in stats


def test_an_index_that_fails_to_read_is_a_gr_error_and_is_logged(handlers, monkeypatch):
    def broken():
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(handlers.assistant, "stats", broken)
    with pytest.raises(gr.Error) as caught:
        handlers.refresh(None, None)
    assert caught.value.message == (
        "Something went wrong while reading the index. The server log has the details."
    )
    assert "disk on fire" not in caught.value.message
    with pytest.raises(gr.Error, match="while reading the index"):
        handlers.stats()


def test_search_narrows_the_article_list(handlers):
    assert "1 of 2 articles match “northvolt”" in handlers.search_articles("northvolt")
    assert "No article matches the search." in handlers.search_articles("zzz")


# -- uploads and removal ----------------------------------------------------------------------


def test_an_ingest_reports_a_bad_file_by_name_and_indexes_the_others(handlers, tmp_path):
    picked = tmp_path / "picked"
    picked.mkdir()
    good = picked / "kites.md"
    good.write_text(
        "# Kite surfers cross the Minch\n\nFour kite surfers crossed the Minch from Skye to "
        "Harris in under three hours on 9 May 2025.\n",
        encoding="utf-8",
    )
    program = picked / "tool.exe"
    program.write_bytes(b"MZ\x90\x00")
    empty = picked / "empty.txt"
    empty.write_bytes(b"")

    summary = handlers.ingest_files([str(good), str(program), str(empty)])
    by_file = {r["file"]: r for r in summary["files"]}
    assert by_file["kites.md"]["status"] == "added"
    assert by_file["tool.exe"]["status"] == "failed"
    assert by_file["tool.exe"]["detail"].startswith(".exe files cannot be indexed")
    assert "file is empty" in by_file["empty.txt"]["detail"]
    assert {f["file"] for f in summary["failed"]} == {"tool.exe", "empty.txt"}
    # Only the copy that gave an article is kept.
    uploads = handlers.assistant.settings.data_dir / "uploads"
    assert [p.name for p in uploads.iterdir()] == ["kites.md"]

    with pytest.warns(UserWarning, match="2 files could not be indexed: tool.exe: .exe files"):
        results, files, status, *_ = handlers.show_ingest(summary, None, "")
    assert 'class="row-failed"' in results and "tool.exe" in results and files is None
    assert "<strong>3 articles</strong>" in status


def test_an_ingest_without_files_asks_for_some(handlers):
    with pytest.raises(gr.Error, match="Choose one or more files first"):
        handlers.ingest_files([])


def test_remove_removes_the_article_and_its_uploaded_copy(handlers, tmp_path):
    note = tmp_path / "note.md"
    note.write_text(
        "# Ferry timetable changes\n\nThe island ferry sails twice a day from 1 June 2025.\n",
        encoding="utf-8",
    )
    handlers.ingest_files([str(note)])
    copy = handlers.assistant.settings.data_dir / "uploads" / "note.md"
    assert copy.exists()
    article = next(a for a in handlers.articles() if a["title"] == "Ferry timetable changes")

    views = handlers.remove_article(None, "", click(remove=article["id"]))
    assert "Ferry timetable" not in views[2]
    assert all(a["id"] != article["id"] for a in handlers.articles())
    assert not copy.exists()
    with pytest.warns(UserWarning, match="no longer indexed"):
        handlers.remove_article(None, "", click(remove=article["id"]))


def test_the_api_remove_refuses_an_unknown_id_in_words(handlers):
    first = handlers.articles()[0]["id"]
    with pytest.raises(gr.Error) as caught:
        handlers.remove([first, "nope"])
    assert caught.value.message == "No indexed article has the id 'nope'."
    assert len(handlers.articles()) == 2  # nothing removed
    assert handlers.remove([first]) == {"removed": 1}
    assert handlers.stats()["articles"] == 1


# -- the API ----------------------------------------------------------------------------------


def test_the_api_ask_returns_the_answer_with_its_citations_and_filters(handlers):
    answer = handlers.ask(GEM, history=[["Hi", "Hello"]])
    assert "Ascend Elements" in answer["answer"] and not answer["refused"]
    assert answer["citations"] and answer["citations"][0]["article_id"]
    assert answer["filters"] == {"sources": [], "since": None, "until": None}
    with pytest.raises(gr.Error, match="History must be a list"):
        handlers.ask(GEM, history="not a list")  # type: ignore[arg-type]


def test_hostile_titles_are_text_in_every_view(handlers, tmp_path):
    folder = tmp_path / "server"
    folder.mkdir()
    title = "<img src=x onerror=alert(1)> Pylon <b onmouseover=alert(2)>outage"
    (folder / f"{title}.txt").write_text(
        "Storm winds toppled a transmission pylon near Aberlyn on 3 March 2025.\n",
        encoding="utf-8",
    )
    assert handlers.assistant.ingest([folder]).added == 1
    escaped = "&lt;img src=x onerror=alert(1)&gt; Pylon &lt;b onmouseover=alert(2)&gt;outage"
    listed = handlers.search_articles("pylon")
    _, (_, messages, stored) = final_chat(handlers, "Where did the storm topple a pylon?")
    viewer = handlers.open_source(stored, click(turn=0, n=1))
    for html in (listed, messages[-1]["content"], viewer):
        assert escaped in html
        assert not re.search(r"<(img|b)\b", html)


def test_gradio_finds_the_event_arguments_of_the_handlers(handlers):
    from gradio.utils import get_type_hints

    assert get_type_hints(handlers.open_source)["evt"] is gr.EventData
    assert get_type_hints(handlers.remove_article)["evt"] is gr.EventData
    assert get_type_hints(handlers.respond_example)["evt"] is gr.SelectData
