"""Stories: syndicated copies grouped at ingest, regrouped as articles are added, edited
and removed, stable across re-ingests and rebuilds; a real Chroma store in a temp dir."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from index import ChromaStore, ingest, remove
from index import stories as story_index

WIRE = [
    "Harbor City officials approved a plan on Monday to replace the century-old Ferris Street "
    "bridge, which engineers closed to trucks last spring after inspectors found corroded "
    "steel beneath the deck.",
    "The council voted seven to two for the 84 million dollar project, which will be paid for "
    "with a mix of state transportation grants and a municipal bond that voters backed in "
    "November.",
    "Construction is expected to begin next summer and last about two and a half years, "
    "during which a temporary span will carry pedestrians and cyclists across the Mill River.",
    "Mayor Denise Okafor said the vote ended a decade of debate over whether to repair or "
    "rebuild the crossing, and thanked residents who packed three public hearings this fall.",
    "Two council members who voted against the plan argued that the city should first fix "
    "smaller bridges in worse condition, and warned that the bond would strain the budget.",
    "The state transportation department rated the bridge structurally deficient in 2019 and "
    "again in its latest report, citing cracks in the piers and failing expansion joints.",
    "Detours for freight traffic will stay in place until the new bridge opens, sending "
    "trucks along Canal Road and the interstate spur, where residents have complained of "
    "noise and speeding.",
    "The new design adds protected bike lanes, wider sidewalks and a fishing pier, features "
    "the city's planning commission requested after a survey of more than four thousand "
    "residents last year.",
]

COPY_A = [
    "By Jane Moss, Valley Courier",
    "HARBOR CITY (Valley Courier) — The aging Ferris Street bridge will be torn down and "
    "rebuilt after a council vote on Monday, ending years of argument over the closed span.",
    *WIRE[1:4],
    *WIRE[5:],
]

COPY_B = [
    "By Ray Lind, Metro Daily",
    "Harbor City will rebuild the Ferris Street bridge, the council decided Monday, after "
    "inspectors found corroded steel under the deck last spring.",
    *WIRE[1:],
    "Metro Daily reached out to the state transportation department for comment but did not "
    "hear back by publication time.",
]

# The same event, reported in other words: not a copy.
OWN_REPORT = [
    "After a marathon meeting that ran past midnight, the Harbor City council picked "
    "replacement over repair for the shuttered Ferris Street crossing.",
    "Supporters in the packed chamber cheered when the tally was read; opponents said older, "
    "smaller bridges on the east side deserve attention first.",
    "Our reporter walked the closed span on Sunday: rust stains streak the underside, and the "
    "barricades put up for trucks last year are dented from repeated collisions.",
    "Residents of the Mill River neighborhood told us the closure has added twenty minutes to "
    "their commute and hurt the shops along Ferris Street.",
]

CORRECTION = [
    "Metro Daily withdrew an earlier article about the Ferris Street bridge, which ran before "
    "the council had voted and described a plan the council never adopted.",
    "Readers who want the council's decision can find it in the minutes published on the city "
    "website, along with the engineers' inspection reports and the bond schedule.",
]

OTHER = [
    "A regional orchestra announced a season of free outdoor concerts in the botanical garden, "
    "starting with a program of film music on the first Saturday of June.",
    "The concerts are funded by a private foundation and will run every second weekend through "
    "September, weather permitting, with a rain date on the following Sunday.",
]


def write_article(folder: Path, name: str, **fields: object) -> Path:
    """One article per JSON Lines file (so each can be edited or removed alone)."""
    path = folder / f"{name}.jsonl"
    path.write_text(json.dumps({"id": name, **fields}) + "\n", encoding="utf-8")
    return path


def body(paragraphs: list[str]) -> str:
    return "\n\n".join(paragraphs)


@pytest.fixture
def news(tmp_path):
    folder = tmp_path / "news"
    folder.mkdir()
    write_article(
        folder,
        "wire",
        title="Council approves new Ferris Street bridge",
        source="Wire Service",
        published_at="2025-03-03",
        url="https://wire.example/bridge",
        body=body(WIRE),
    )
    write_article(
        folder,
        "copy-a",
        title="Ferris Street bridge to be rebuilt",
        source="Valley Courier",
        published_at="2025-03-04",
        url="https://courier.example/bridge",
        body=body(COPY_A),
    )
    write_article(
        folder,
        "copy-b",
        title="Harbor City picks a new bridge",
        source="Metro Daily",
        published_at="2025-03-05",
        url="https://metro.example/bridge",
        body=body(COPY_B),
    )
    write_article(
        folder,
        "own",
        title="Inside the bridge vote",
        source="Harbor Ledger",
        published_at="2025-03-04",
        url="https://ledger.example/vote",
        body=body(OWN_REPORT),
    )
    write_article(
        folder,
        "other",
        title="Free concerts in the garden",
        source="Arts Weekly",
        published_at="2025-03-01",
        url="https://arts.example/concerts",
        body=body(OTHER),
    )
    return folder


def grouping(store: ChromaStore) -> dict[str, list[str]]:
    return store.stories()


def test_copies_group_and_distinct_reports_do_not(tmp_path, news, embedder):
    store = ChromaStore(path=tmp_path / "data", embedding_model=embedder.model_name)
    ingest([news], store=store, embedder=embedder)
    stories = grouping(store)
    assert sorted(map(sorted, stories.values())) == [
        ["copy-a", "copy-b", "wire"],
        ["other"],
        ["own"],
    ]
    of = store.story_of(["wire", "copy-a", "copy-b", "own"])
    # The earliest copy is the original, and names the story.
    assert of["wire"] == of["copy-a"] == of["copy-b"] == story_index.story_id_for("wire")
    assert of["own"] != of["wire"]
    assert store.story_members([of["wire"]]) == {of["wire"]: ["wire", "copy-a", "copy-b"]}
    assert store.story_count() == 3
    assert store.stories(min_copies=2) == {of["wire"]: ["wire", "copy-a", "copy-b"]}


def test_stories_follow_edits_and_removals(tmp_path, news, embedder):
    store = ChromaStore(path=tmp_path / "data", embedding_model=embedder.model_name)
    ingest([news], store=store, embedder=embedder)
    wire_story = store.story_of(["wire"])["wire"]

    # An edit that makes a copy a different article takes it out of the story...
    write_article(
        news,
        "copy-b",
        title="Harbor City picks a new bridge",
        source="Metro Daily",
        published_at="2025-03-05",
        url="https://metro.example/bridge",
        body=body(CORRECTION),
    )
    report = ingest([news], store=store, embedder=embedder)
    assert report.updated == 1
    assert store.story_members([wire_story])[wire_story] == ["wire", "copy-a"]
    assert store.story_of(["copy-b"])["copy-b"] == story_index.story_id_for("copy-b")

    # ... and the edit undone brings it back under the same story id.
    write_article(
        news,
        "copy-b",
        title="Harbor City picks a new bridge",
        source="Metro Daily",
        published_at="2025-03-05",
        url="https://metro.example/bridge",
        body=body(COPY_B),
    )
    ingest([news], store=store, embedder=embedder)
    assert store.story_members([wire_story])[wire_story] == ["wire", "copy-a", "copy-b"]

    # The original removed: the earliest remaining copy is the original, the story renamed.
    remove([str(news / "wire.jsonl")], store=store)
    after = store.story_of(["copy-a", "copy-b"])
    assert after["copy-a"] == after["copy-b"] == story_index.story_id_for("copy-a")
    assert store.story_members([wire_story]) == {}

    # A copy removed by id: the story shrinks, the others are untouched.
    own_story = store.story_of(["own"])["own"]
    remove(["copy-b"], store=store)
    assert store.story_members([after["copy-a"]])[after["copy-a"]] == ["copy-a"]
    assert store.story_of(["own"])["own"] == own_story
    assert "copy-b" not in store.story_of(["copy-b"])


def test_an_earlier_copy_added_later_becomes_the_original(tmp_path, news, embedder):
    store = ChromaStore(path=tmp_path / "data", embedding_model=embedder.model_name)
    (news / "wire.jsonl").unlink()
    ingest([news], store=store, embedder=embedder)
    first = store.story_of(["copy-a", "copy-b"])
    assert first["copy-a"] == first["copy-b"] == story_index.story_id_for("copy-a")
    write_article(
        news,
        "wire",
        title="Council approves new Ferris Street bridge",
        source="Wire Service",
        published_at="2025-03-03",
        url="https://wire.example/bridge",
        body=body(WIRE),
    )
    ingest([news], store=store, embedder=embedder)
    story = story_index.story_id_for("wire")
    assert store.story_members([story]) == {story: ["wire", "copy-a", "copy-b"]}


def test_reingest_and_rebuild_keep_the_story_ids(tmp_path, news, embedder):
    store = ChromaStore(path=tmp_path / "data", embedding_model=embedder.model_name)
    ingest([news], store=store, embedder=embedder)
    before = grouping(store)
    again = ingest([news], store=store, embedder=embedder)
    assert again.unchanged == 5 and again.chunks == 0
    assert grouping(store) == before
    ingest([news], store=store, embedder=embedder, rebuild=True)
    assert grouping(store) == before


def test_stories_are_rebuilt_when_missing(tmp_path, news, embedder):
    """An index made before stories existed (or whose stories were lost) gets them at the
    next ingest, from the stored bodies, without re-embedding anything."""
    store = ChromaStore(path=tmp_path / "data", embedding_model=embedder.model_name)
    ingest([news], store=store, embedder=embedder)
    before = grouping(store)
    story_index.reset(store)
    assert store.story_count() == 0
    report = ingest([news], store=store, embedder=embedder)
    assert report.chunks == 0
    assert grouping(store) == before


def add_copy_a(news: Path) -> None:
    """The Valley Courier's copy of the wire report, written (back) into the folder."""
    write_article(
        news,
        "copy-a",
        title="Ferris Street bridge to be rebuilt",
        source="Valley Courier",
        published_at="2025-03-04",
        url="https://courier.example/bridge",
        body=body(COPY_A),
    )


def test_an_interrupted_write_is_regrouped(tmp_path, news, embedder, monkeypatch):
    """A write killed after the article rows landed but before the stories were updated
    is finished by the next run: the journal names the articles to place again."""
    store = ChromaStore(path=tmp_path / "data", embedding_model=embedder.model_name)
    (news / "copy-a.jsonl").unlink()
    ingest([news], store=store, embedder=embedder)

    def killed(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    add_copy_a(news)
    monkeypatch.setattr(story_index, "place", killed)
    with pytest.raises(KeyboardInterrupt):
        ingest([news], store=store, embedder=embedder)
    monkeypatch.undo()
    assert store.journal() == ["copy-a"]
    ingest([news], store=store, embedder=embedder)
    story = story_index.story_id_for("wire")
    assert store.story_members([story]) == {story: ["wire", "copy-a", "copy-b"]}


def test_a_write_stopped_between_band_rows_and_story_rows_is_finished(
    tmp_path, news, embedder, monkeypatch
):
    """The band rows of new articles are written before their story rows: a run stopped in
    between leaves band rows that candidate lookups skip, and the next run places those
    articles again, so the copy still joins its story."""
    store = ChromaStore(path=tmp_path / "data", embedding_model=embedder.model_name)
    (news / "copy-a.jsonl").unlink()
    ingest([news], store=store, embedder=embedder)
    add_copy_a(news)
    saved = story_index._save

    def stopped(collection: object, store: object, nodes: object, *, bands: bool) -> None:
        if not bands:
            raise KeyboardInterrupt
        saved(collection, store, nodes, bands=bands)  # type: ignore[arg-type]

    monkeypatch.setattr(story_index, "_save", stopped)
    with pytest.raises(KeyboardInterrupt):
        ingest([news], store=store, embedder=embedder)
    monkeypatch.undo()
    assert story_index._bands(store).get(ids=["copy-a"])["ids"] == ["copy-a"]
    assert story_index._collection(store).get(ids=["copy-a"])["ids"] == []
    ingest([news], store=store, embedder=embedder)
    story = story_index.story_id_for("wire")
    assert store.story_members([story]) == {story: ["wire", "copy-a", "copy-b"]}
    counts = {c.count() for c in (story_index._collection(store), story_index._bands(store))}
    assert counts == {store.counts()[0]}


def test_signatures_measure_copies():
    wire, copy_a, own = (story_index.signature(body(p)) for p in (WIRE, COPY_A, OWN_REPORT))
    assert wire is not None and copy_a is not None and own is not None
    assert story_index.similarity(wire, copy_a) >= story_index.MATCH
    assert story_index.similarity(wire, own) < 0.1
    assert story_index.signature("Too short to tell.") is None


def test_a_story_held_together_by_one_copy_splits_when_it_goes(tmp_path, embedder):
    """Copies are grouped by a chain of likeness: A is like B and B like C, but A is not
    like C; removing B leaves two stories."""
    import random

    rnd = random.Random(5)
    words = [f"{w}{i}" for i, w in enumerate("river bridge council vote steel deck bond".split())]
    words += "the a of to and in for on with by from city state plan road".split()
    paragraphs = [" ".join(rnd.choices(words, k=40)) + "." for _ in range(18)]
    folder = tmp_path / "news"
    folder.mkdir()
    for name, lo, day in (("a", 0, "2025-01-01"), ("b", 3, "2025-01-02"), ("c", 6, "2025-01-03")):
        write_article(
            folder,
            name,
            title=name,
            source=name,
            published_at=day,
            body=body(paragraphs[lo : lo + 12]),
        )
    store = ChromaStore(path=tmp_path / "data", embedding_model=embedder.model_name)
    ingest([folder], store=store, embedder=embedder)
    assert list(grouping(store).values()) == [["a", "b", "c"]]
    remove(["b"], store=store)
    assert sorted(grouping(store).values()) == [["a"], ["c"]]
    assert store.story_of(["c"])["c"] == story_index.story_id_for("c")


def test_a_new_copy_joins_a_large_story_and_can_join_two(tmp_path):
    """Placing new articles keeps stored stories as they are and links only the new ones:
    a copy joins a story of 30, and an article like two stories (not like each other)
    merges them; the earliest copy stays the original."""
    import random

    rnd = random.Random(7)
    words = [f"w{i}" for i in range(400)]
    paragraphs = [" ".join(rnd.choices(words, k=40)) + "." for _ in range(18)]
    store = ChromaStore(path=tmp_path / "data")
    wire = body(paragraphs[0:12])
    story_index.place(store, [("wire", wire, 20250101)])
    for start in range(0, 30, 10):  # 30 copies, each the wire report with its own last line
        story_index.place(
            store,
            [
                (f"copy{i}", f"{wire}\n\nOutlet note number {i}.", 20250102)
                for i in range(start, start + 10)
            ],
        )
    other = body(paragraphs[6:18])  # like the bridge below, not like the wire report
    story_index.place(store, [("other", other, 20250103)])
    assert len(grouping(store)[story_index.story_id_for("wire")]) == 31
    assert story_index.story_id_for("other") in grouping(store)

    story_index.place(store, [("bridge", body(paragraphs[3:15]), 20250104)])
    merged = grouping(store)
    assert list(merged) == [story_index.story_id_for("wire")]
    members = merged[story_index.story_id_for("wire")]
    assert members[0] == "wire" and {"bridge", "other"} <= set(members) and len(members) == 33


def test_a_large_story_keeps_representatives_when_its_first_copies_go(tmp_path):
    """Only a story's first copies carry band rows (the rest are found through them):
    removing those copies makes later ones representatives, so a new copy still joins the
    story, and a copy that returns joins it again."""
    import random

    rnd = random.Random(11)
    words = [f"w{i}" for i in range(400)]
    wire = body([" ".join(rnd.choices(words, k=40)) + "." for _ in range(12)])
    store = ChromaStore(path=tmp_path / "data")
    story_index.place(store, [("wire", wire, 20250101)])
    copies = [(f"copy{i:02d}", f"{wire}\n\nOutlet note number {i}.", 20250102) for i in range(20)]
    story_index.place(store, copies)
    bands = story_index._bands(store)
    assert bands.count() == story_index.REPRESENTATIVES
    assert len(grouping(store)[story_index.story_id_for("wire")]) == 21

    first = sorted(bands.get(include=[])["ids"])
    remove_ids = [aid for aid in first if aid != "wire"]
    story_index.drop(store, remove_ids)
    assert bands.count() == story_index.REPRESENTATIVES
    assert not set(remove_ids) & set(bands.get(include=[])["ids"])
    story_index.drop(store, ["wire"])
    stories = grouping(store)
    assert len(stories) == 1 and len(next(iter(stories.values()))) == 21 - len(first)

    story_index.place(store, [("late", f"{wire}\n\nA late outlet's note.", 20250105)])
    story_index.place(store, [("wire", wire, 20250101)])
    stories = grouping(store)
    assert list(stories) == [story_index.story_id_for("wire")]
    assert stories[story_index.story_id_for("wire")][0] == "wire"
    assert len(stories[story_index.story_id_for("wire")]) == 23 - len(first)


def test_stories_made_another_way_are_regrouped(tmp_path, news, embedder):
    """Signatures are only comparable when made the same way: a stories collection marked
    with another scheme is dropped and rebuilt at the next ingest."""
    store = ChromaStore(path=tmp_path / "data", embedding_model=embedder.model_name)
    ingest([news], store=store, embedder=embedder)
    before = grouping(store)
    collection = story_index._collection(store)
    collection.modify(metadata={"scheme": "an-older-scheme"})
    collection.update(ids=["copy-a"], metadatas=[{"story_id": "stale"}])
    ingest([news], store=store, embedder=embedder)
    assert story_index._collection(store).metadata["scheme"] == story_index.SCHEME
    assert grouping(store) == before


@pytest.mark.server
@pytest.mark.slow
def test_stories_live_on_the_chroma_server(chroma_server, news, embedder, tmp_path):
    """Against a real `chroma run`: one client ingests, another (a separate process)
    removes, and a third sees the stories as they are, with nothing stored locally."""
    from conftest import run_cli, unique_collection

    host, port = chroma_server
    collection = unique_collection()
    store = ChromaStore(
        host=host, port=port, collection=collection, embedding_model=embedder.model_name
    )
    ingest([news], store=store, embedder=embedder)
    story = story_index.story_id_for("wire")
    env = {
        "ASSISTANT_CHROMA_HOST": host,
        "ASSISTANT_CHROMA_PORT": str(port),
        "ASSISTANT_COLLECTION": collection,
        "ASSISTANT_DATA_DIR": str(tmp_path / "local"),
    }
    listed = json.loads(run_cli(["stories", "--json", "--min-copies", "2"], env=env).stdout)
    assert [(s["story_id"], len(s["copies"])) for s in listed] == [(story, 3)]

    removed = run_cli(["remove", "wire"], env=env, process=True)
    assert removed.returncode == 0, removed.stderr
    other = ChromaStore(
        host=host, port=port, collection=collection, embedding_model=embedder.model_name
    )
    after = other.story_of(["copy-a", "copy-b"])
    assert after["copy-a"] == after["copy-b"] == story_index.story_id_for("copy-a")
    assert other.story_members([story]) == {}
    stats = json.loads(run_cli(["stats", "--json"], env=env).stdout)
    assert (stats["articles"], stats["stories"]) == (4, 3)
    assert not (tmp_path / "local" / "chroma").exists()


def test_briefs_that_share_a_long_footer_are_not_copies(tmp_path, embedder):
    """Two short briefs ending in the same standard paragraph have more words in common
    than their own: too short to tell, each is its own story."""
    footer = (
        "Officials said the plan would be reviewed again next year. Analysts expect more "
        "announcements soon. The company did not comment further on the matter."
    )
    folder = tmp_path / "news"
    folder.mkdir()
    write_article(
        folder,
        "bakery",
        title="Bakery",
        body=f"Crumbwell Bakeries opened twelve new shops across the north. {footer}",
    )
    write_article(
        folder,
        "harbour",
        title="Harbour",
        body=f"The Kestrel Bay harbour reopened to ferries after storm repairs. {footer}",
    )
    store = ChromaStore(path=tmp_path / "data", embedding_model=embedder.model_name)
    ingest([folder], store=store, embedder=embedder)
    assert sorted(grouping(store).values()) == [["bakery"], ["harbour"]]
