"""Retrieval over the index: typed hits for the chain, a LangChain retriever for the rest."""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from index import ChromaStore, Embedder, Hit, SearchFilter

__all__ = ["NewsRetriever", "Searcher"]


class Searcher:
    """Finds the chunks that best match a question, at most `per_article` from one article
    so that the sources span several articles."""

    def __init__(self, store: ChromaStore, embedder: Embedder, *, per_article: int = 2) -> None:
        self.store = store
        self.embedder = embedder
        self.per_article = per_article

    def search(self, query: str, *, k: int, where: SearchFilter | None = None) -> list[Hit]:
        """The best `k` chunks for `query`, best first."""
        vector = self.embedder.embed_query(query)
        hits = self.store.search(vector, k=k * 3, where=where)
        per: dict[str, int] = {}
        kept: list[Hit] = []
        for hit in hits:
            if per.get(hit.article_id, 0) >= self.per_article:
                continue
            per[hit.article_id] = per.get(hit.article_id, 0) + 1
            kept.append(hit)
            if len(kept) == k:
                break
        return kept


class NewsRetriever(BaseRetriever):
    """A LangChain retriever over the news index (Documents carry the citation metadata)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    searcher: Any
    k: int = 5
    where: SearchFilter | None = None

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        return [
            Document(
                page_content=hit.text,
                id=hit.chunk_id,
                metadata={
                    "article_id": hit.article_id,
                    "title": hit.title,
                    "source": hit.source,
                    "published_at": hit.published_at,
                    "url": hit.url,
                    "start": hit.start,
                    "end": hit.end,
                    "score": hit.score,
                },
            )
            for hit in self.searcher.search(query, k=self.k, where=self.where)
        ]
