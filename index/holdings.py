"""What the index holds at a glance: how many articles it has from each day and each outlet.

The date rules ("this week": is there news from then?) and the question splitter (which
outlet names a question may use) need it before the first search. Read from the article
rows it costs a read of every row (12 s at 100,000 articles), so it is kept as one row of
the state collection, stamped with the store generation it describes. The one writer keeps
it in step under the ingest lock: a write or removal adds and takes away its own articles'
days and outlets and stamps the result with the generation it leaves; anything else that
changes rows (recovery, repair) counts again from the rows. A reader uses it only when its
stamp is the store's generation now, so a stale or missing one is never trusted.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from .models import ArticleRecord
from .schema import published_int

__all__ = ["Holdings", "HoldingsRow"]

_ROW = "holdings"


@dataclass(slots=True)
class Holdings:
    """Articles per publication day (YYYYMMDD; undated ones are not counted) and per outlet."""

    days: Counter[int] = field(default_factory=Counter)
    outlets: Counter[str] = field(default_factory=Counter)

    @classmethod
    def of(cls, records: Iterable[ArticleRecord]) -> Holdings:
        holdings = cls()
        holdings.add(records)
        return holdings

    def add(self, records: Iterable[ArticleRecord]) -> None:
        for record in records:
            if day := published_int(record.published_at):
                self.days[day] += 1
            if record.source:
                self.outlets[record.source] += 1

    def remove(self, records: Iterable[ArticleRecord]) -> None:
        for record in records:
            if day := published_int(record.published_at):
                self.days[day] -= 1
            if record.source:
                self.outlets[record.source] -= 1
        self.days = +self.days  # drops the days and outlets no article is left from
        self.outlets = +self.outlets

    def facts(self) -> tuple[list[int], set[str]]:
        """The day of every dated article, sorted; the outlets."""
        return [day for day in sorted(self.days) for _ in range(self.days[day])], set(self.outlets)

    def to_json(self) -> str:
        return json.dumps(
            {"days": {str(d): n for d, n in self.days.items()}, "outlets": dict(self.outlets)}
        )

    @classmethod
    def from_json(cls, text: str) -> Holdings:
        data = json.loads(text)
        return cls(
            Counter({int(d): int(n) for d, n in data["days"].items()}),
            Counter({str(o): int(n) for o, n in data["outlets"].items()}),
        )


class HoldingsRow:
    """The holdings as one row of the state collection, with the generation they describe."""

    def __init__(self, state: Callable[[], Any]) -> None:
        self._state = state

    def read(self, generation: str) -> Holdings | None:
        """The holdings of this store generation; None when the row describes another one
        (or there is none: an index written before it was kept)."""
        got = self._state().get(ids=[_ROW], include=["documents", "metadatas"])
        if not got["ids"] or (got["metadatas"][0] or {}).get("generation") != generation:
            return None
        return Holdings.from_json(got["documents"][0])

    def save(self, holdings: Holdings, generation: str) -> None:
        self._state().upsert(
            ids=[_ROW],
            documents=[holdings.to_json()],
            metadatas=[{"generation": generation}],
            embeddings=[[1.0]],
        )
