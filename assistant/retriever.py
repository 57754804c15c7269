"""`NewsRetriever`: the assistant's retrieval as a LangChain retriever.

It wraps `Searcher` (hybrid dense + BM25 search, the question's dates preferred, filters by
outlet and date) and is the one retrieval path: the answering chain calls `retrieve` for
the full `Retrieval`, and `invoke` (LangChain's interface) hands back the same hits as
`Document`s whose metadata holds what a citation needs.

Example:
    retriever = assistant.retriever.with_filters(sources=["Battery Brief"], k=3)
    for doc in retriever.invoke("Who is GEM partnering with?"):
        print(doc.metadata["title"], doc.metadata["url"], doc.page_content)
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict, Field

from index import Hit, SearchFilter

from .retrieval import Retrieval, Searcher

__all__ = ["CITATION_FIELDS", "NewsRetriever", "hit_document"]

# The metadata keys every Document carries: `page_content == body of article_id
# [start:end]`, exactly, so a quote cut from it can be cited as the assistant cites.
CITATION_FIELDS = (
    "article_id",
    "chunk_id",
    "title",
    "source",
    "published_at",
    "url",
    "start",
    "end",
    "score",
)


def hit_document(hit: Hit) -> Document:
    """A search hit as a LangChain `Document` (its text; the citation fields as metadata)."""
    return Document(
        page_content=hit.text,
        id=hit.chunk_id,
        metadata={name: getattr(hit, name) for name in CITATION_FIELDS},
    )


class NewsRetriever(BaseRetriever):
    """The indexed articles' best passages for a query, as LangChain `Document`s.

    Hybrid (dense + BM25, fused by rank) and date-aware: time words in the query ("this
    week", "in June") are read against `as_of` (default: today) and articles from then are
    preferred; a query about a time the index holds nothing near finds nothing. `sources`,
    `since` and `until` restrict the search to outlets and published dates (inclusive).
    `invoke(query, k=..., sources=..., since=..., until=..., as_of=...)` overrides them for
    one call. Each Document's metadata holds `CITATION_FIELDS`.

    Args:
        searcher: the assistant's `Searcher` (`NewsAssistant.retriever` builds one).
        k: how many passages (at most two per article).
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    searcher: Searcher
    k: int = Field(5, ge=1, le=50)
    sources: tuple[str, ...] = ()
    since: date | None = None
    until: date | None = None
    as_of: date | None = None

    def with_filters(self, **changes: Any) -> NewsRetriever:
        """A copy with other options (`k`, `sources`, `since`, `until`, `as_of`)."""
        if "sources" in changes:
            changes["sources"] = tuple(changes["sources"] or ())
        return NewsRetriever.model_validate({**dict(self), **changes})

    @property
    def where(self) -> SearchFilter:
        """The outlet and date filter of this retriever."""
        return SearchFilter(sources=self.sources, since=self.since, until=self.until)

    def retrieve(
        self,
        query: str,
        *,
        k: int | None = None,
        where: SearchFilter | None = None,
        today: date | None = None,
    ) -> Retrieval:
        """Everything the search found (hits, ranked articles, dates read, parts): what the
        answering chain uses. Arguments left out come from the retriever's options."""
        return self.searcher.retrieve(
            query,
            k=k or self.k,
            where=self.where if where is None else where,
            today=today or self.as_of or date.today(),
        )

    def _get_relevant_documents(
        self,
        query: str,
        *,
        run_manager: CallbackManagerForRetrieverRun,
        k: int | None = None,
        sources: Sequence[str] | None = None,
        since: date | None = None,
        until: date | None = None,
        as_of: date | None = None,
    ) -> list[Document]:
        where = SearchFilter(
            sources=self.sources if sources is None else tuple(sources),
            since=since or self.since,
            until=until or self.until,
        )
        found = self.retrieve(query, k=k, where=where, today=as_of)
        if not found.covered:  # a time the index holds nothing near: nothing to cite
            return []
        return [hit_document(hit) for hit in found.hits]
