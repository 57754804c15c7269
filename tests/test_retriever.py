"""`NewsRetriever`: a real LangChain retriever over the real index (the sample corpus, the
packaged embedding model), the one the answering chain uses, and composable into a user's
own LCEL chain with a chat model talking to the loopback OpenAI-compatible server. Also the
Markdown export of an answer (`ask --format markdown`)."""

from __future__ import annotations

import re
from datetime import date

from conftest import run_cli
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import RunnablePassthrough
from openai_server import Reply
from pydantic import Field

from assistant import NewsRetriever, answer_markdown
from assistant.retriever import CITATION_FIELDS

GEM = "Who is GEM partnering with?"


def test_documents_carry_citation_fields_that_point_into_the_article(sample_assistant):
    retriever = sample_assistant.retriever
    assert isinstance(retriever, BaseRetriever)
    docs = retriever.invoke(GEM)
    assert docs
    top = docs[0]
    assert set(CITATION_FIELDS) <= set(top.metadata)
    assert (
        top.metadata["title"] == "Ascend Elements and GEM team up on battery recycling for Europe"
    )
    assert top.metadata["source"] == "Battery Brief"
    assert top.metadata["published_at"] == "2025-11-04"
    assert top.metadata["url"].startswith("https://example.com/battery-brief/")
    for doc in docs:
        _, body = sample_assistant.article(doc.metadata["article_id"])
        assert body[doc.metadata["start"] : doc.metadata["end"]] == doc.page_content


def test_filters_and_per_call_options(sample_assistant):
    retriever = sample_assistant.retriever
    grid = retriever.with_filters(sources=["Grid Weekly"])
    docs = grid.invoke("batteries")
    assert docs and {d.metadata["source"] for d in docs} == {"Grid Weekly"}
    recent = retriever.invoke("batteries", since=date(2025, 1, 1))
    assert recent and all(d.metadata["published_at"] >= "2025-01-01" for d in recent)
    assert len(retriever.invoke("batteries", k=1)) == 1
    # Date-aware: "this week" is read against as_of, and nothing indexed is near 2031.
    assert retriever.invoke("What happened with batteries this week?", as_of=date(2031, 5, 1)) == []
    assert retriever.invoke("What happened with GEM this week?", as_of=date(2025, 11, 6))


class RecordingRetriever(NewsRetriever):
    """The real retriever, remembering the queries the chain sent through it."""

    queries: list[str] = Field(default_factory=list)

    def retrieve(self, query, **options):  # type: ignore[override]
        self.queries.append(query)
        return super().retrieve(query, **options)


def test_the_answering_chain_retrieves_through_it(sample_assistant):
    recording = RecordingRetriever(searcher=sample_assistant.searcher, k=3)
    sample_assistant.retriever = recording
    answer = sample_assistant.ask(GEM)
    assert recording.queries == [GEM]
    assert not answer.refused
    assert "Ascend Elements" in answer.answer


def test_composes_into_a_users_lcel_chain_with_a_chat_model(sample_assistant, llm_server):
    from langchain_openai import ChatOpenAI

    def numbered(docs):
        return "\n".join(
            f"[{i}] {d.page_content} ({d.metadata['source']}, {d.metadata['published_at']})"
            for i, d in enumerate(docs, start=1)
        )

    prompt = ChatPromptTemplate.from_messages(
        [("system", "Answer from these sources:\n{context}"), ("human", "{question}")]
    )
    model = ChatOpenAI(
        base_url=llm_server.base_url, api_key="sk-test", model="scripted", max_retries=0
    )
    chain = (
        {"context": sample_assistant.retriever | numbered, "question": RunnablePassthrough()}
        | prompt
        | model
        | StrOutputParser()
    )
    llm_server.script(Reply("GEM is partnering with Ascend Elements [1]."))
    assert chain.invoke(GEM) == "GEM is partnering with Ascend Elements [1]."
    sent = llm_server.requests[-1]["body"]["messages"]
    assert sent[0]["role"] == "system"
    assert "GEM Co. is partnering with Ascend Elements" in sent[0]["content"]
    assert "(Battery Brief, 2025-11-04)" in sent[0]["content"]
    assert sent[1]["content"] == GEM
    # Batches go through the same retriever.
    assert chain.batch([GEM, GEM]) == ["GEM is partnering with Ascend Elements [1]."] * 2


def test_markdown_export_has_footnotes_with_quote_outlet_date_link(sample_assistant):
    answer = sample_assistant.ask(GEM)
    text = answer_markdown(answer)
    assert text.startswith(f"## {GEM}\n")
    refs = re.findall(r"\[\^(\d+)\](?!:)", text)
    assert refs and {int(n) for n in refs} == {c.n for c in answer.citations}
    for c in answer.citations:
        line = next(x for x in text.splitlines() if x.startswith(f"[^{c.n}]: "))
        assert f"“{c.quote}”" in line
        assert f"{c.source}, {c.published_at}" in line
        assert f"]({c.url})" in line
    assert not re.search(r"(?<!\^)\[\d+\]", text)  # no bare [n] marker is left


def test_markdown_export_escapes_article_markup():
    from assistant.models import Answer, Citation

    cite = Citation(
        n=1,
        article_id="a",
        title="Deal [updated]",
        source="<b>Wire</b>",
        published_at="2025-01-02",
        url="javascript:alert(1)",
        quote="Shares rose *sharply* <script>x</script>.",
        start=0,
        end=10,
        score=1.0,
    )
    answer = Answer(
        question="Q?",
        answer="Shares rose *sharply* [1].",
        refused=False,
        backend="x",
        citations=[cite],
    )
    text = answer_markdown(answer)
    assert "\\*sharply\\* [^1]." in text
    assert "<script>" not in text and "<b>" not in text
    assert "javascript:" not in text.replace("Deal \\[updated\\]", "")  # not a link
    assert "](" not in text


def test_ask_format_markdown(sample_assistant):
    data = sample_assistant.settings.data_dir
    result = run_cli(["ask", GEM, "--local", "--format", "markdown"], data=data)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"## {GEM}\n")
    assert "[^1]: “GEM Co. is partnering with Ascend Elements" in result.stdout
    assert "Battery Brief, 2025-11-04, [Ascend Elements and GEM team up" in result.stdout
