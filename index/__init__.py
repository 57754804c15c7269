"""Turning news files into a searchable index: loaders, chunking, embeddings, the Chroma store."""

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .chunking import chunk_article, embedding_text, split_sentences
    from .embeddings import DEFAULT_EMBEDDING_MODEL, Embedder
    from .errors import (
        AssistantError,
        BusyError,
        ConfigError,
        LoadError,
        ModelMismatchError,
        OperationalError,
        StoreError,
        UsageError,
        UserError,
    )
    from .feedsync import (
        AddedFeed,
        FeedOutcome,
        FeedStatus,
        SyncProgress,
        SyncReport,
        add_feed,
        list_feeds,
        remove_feed,
        sync,
    )
    from .holdings import Holdings
    from .ingestion import FileOutcome, IngestProgress, IngestReport, ingest, remove
    from .loaders import SUPPORTED_SUFFIXES, iter_files, load_file
    from .models import Article, ArticleRecord, Chunk, FeedRecord, Hit, SearchFilter
    from .store import ChromaStore, Consistency
    from .web import Fetcher, FetchError, FetchOptions, canonical_url

# Names load on first use (PEP 562) so that importing the package stays fast.
_LAZY = {
    "chunk_article": ".chunking",
    "embedding_text": ".chunking",
    "split_sentences": ".chunking",
    "DEFAULT_EMBEDDING_MODEL": ".models",
    "Embedder": ".embeddings",
    "AssistantError": ".errors",
    "BusyError": ".errors",
    "ConfigError": ".errors",
    "LoadError": ".errors",
    "ModelMismatchError": ".errors",
    "OperationalError": ".errors",
    "StoreError": ".errors",
    "UsageError": ".errors",
    "UserError": ".errors",
    "FileOutcome": ".ingestion",
    "IngestProgress": ".ingestion",
    "IngestReport": ".ingestion",
    "ingest": ".ingestion",
    "remove": ".ingestion",
    "SUPPORTED_SUFFIXES": ".loaders",
    "iter_files": ".loaders",
    "load_file": ".loaders",
    "Article": ".models",
    "ArticleRecord": ".models",
    "Chunk": ".models",
    "Hit": ".models",
    "SearchFilter": ".models",
    "ChromaStore": ".store",
    "Consistency": ".store",
    "Holdings": ".holdings",
    "FeedRecord": ".models",
    "AddedFeed": ".feedsync",
    "FeedOutcome": ".feedsync",
    "FeedStatus": ".feedsync",
    "SyncProgress": ".feedsync",
    "SyncReport": ".feedsync",
    "add_feed": ".feedsync",
    "list_feeds": ".feedsync",
    "remove_feed": ".feedsync",
    "sync": ".feedsync",
    "FetchError": ".web",
    "FetchOptions": ".web",
    "Fetcher": ".web",
    "canonical_url": ".web",
}

__all__ = [
    "DEFAULT_EMBEDDING_MODEL",
    "SUPPORTED_SUFFIXES",
    "AddedFeed",
    "Article",
    "ArticleRecord",
    "AssistantError",
    "BusyError",
    "ChromaStore",
    "Chunk",
    "ConfigError",
    "Consistency",
    "Embedder",
    "FeedOutcome",
    "FeedRecord",
    "FeedStatus",
    "FetchError",
    "FetchOptions",
    "Fetcher",
    "FileOutcome",
    "Hit",
    "Holdings",
    "IngestProgress",
    "IngestReport",
    "LoadError",
    "ModelMismatchError",
    "OperationalError",
    "SearchFilter",
    "StoreError",
    "SyncProgress",
    "SyncReport",
    "UsageError",
    "UserError",
    "add_feed",
    "canonical_url",
    "chunk_article",
    "embedding_text",
    "ingest",
    "iter_files",
    "list_feeds",
    "load_file",
    "remove",
    "remove_feed",
    "split_sentences",
    "sync",
]


def __getattr__(name: str) -> object:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(_LAZY[name], __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
