"""`assistant eval`: lenient answer matching, metrics, and the command end to end on a
small article set written by the test (its own index, reused on the second run)."""

from __future__ import annotations

import json
from datetime import date

import pytest
from conftest import run_cli

from assistant.eval import (
    EvalQuestion,
    answer_found,
    format_by_type,
    format_table,
    judge,
    lenient,
    summarise,
)
from assistant.models import Answer, Citation
from index.models import Hit

KEYS = {
    "questions",
    "hit_at_1",
    "hit_at_4",
    "hit_at_10",
    "mrr_at_10",
    "answer_recall",
    "citation_precision",
    "citation_support",
    "null_refused",
    "answerable_refused",
    "latency_p50_ms",
    "latency_p95_ms",
    "backend",
    "sentences_cited",
    "answers_without_citation",
    "quoted_instead",
}
ROW_FIELDS = {"id", "question", "answer", "refused", "citations", "retrieved_article_ids"}


@pytest.mark.parametrize(
    ("answers", "text", "found"),
    [
        (["“Squid Game”"], "Netflix renewed 'Squid Game' for season two.", True),
        (["The Tony Awards"], "Stars gathered at the Tony awards.", True),
        (["New Jersey & Oregon"], "Only New Jersey and Oregon ban it.", True),
        (["60%"], "Some 60 percent disapprove.", True),
        (["Eggs"], "Egg prices rose.", False),  # whole words only
        (["Japan"], "The Japanese agency said so.", False),
        (["Yes"], "Yes. The plant opened [1].", True),
        (["no"], "No [1]\n“The plant opened.” [1]", True),
        (["no"], "Yes. “FTX was no Ponzi scheme.” [1]", False),  # yes or no: only first
        (["Yes"], "The report says yes to the plan.", False),
    ],
)
def test_answers_match_leniently(answers, text, found):
    assert answer_found(answers, text) is found


def test_lenient_drops_case_quotes_punctuation_and_articles():
    assert lenient("The “Big” Apple, an icon!") == "big apple icon"


def citation(article_id: str, quote: str, n: int = 1) -> Citation:
    return Citation(
        n=n,
        article_id=article_id,
        title="t",
        source="s",
        published_at="2022-06-12",
        url="u",
        quote=quote,
        start=0,
        end=len(quote),
        score=1.0,
    )


def test_verdicts_and_metrics():
    factoid = EvalQuestion("q1", "Which show?", ("Squid Game",), ("a1",), ("a2",), "factoid")
    null = EvalQuestion("q2", "Which biscuit?", ("Insufficient information",), (), (), "null")
    right = Answer(
        question="Which show?",
        answer="Netflix renewed Squid Game [1]. Fans cheered [2].",
        refused=False,
        backend="extractive",
        citations=[citation("a2", "Netflix renewed Squid Game."), citation("z", "Fans.", 2)],
        retrieved_article_ids=["z", "a2", "a1"],
    )
    wrong = Answer(
        question="Which biscuit?",
        answer="Shortbread [1].",
        refused=False,
        backend="extractive",
        citations=[citation("z", "Shortbread.")],
        retrieved_article_ids=["z"],
    )
    rows = [judge(factoid, right, 100.0), judge(null, wrong, 300.0)]
    assert rows[0].relevant_rank == 2 and rows[0].answer_found and rows[0].citation_supported
    assert rows[0].citations_relevant == 1 and rows[0].refusal_correct
    assert not rows[1].refusal_correct
    report = summarise(rows, [factoid, null], "extractive").to_dict()
    assert set(report) == KEYS
    assert (report["hit_at_1"], report["hit_at_4"], report["mrr_at_10"]) == (0.0, 1.0, 0.5)
    assert (report["answer_recall"], report["citation_precision"]) == (1.0, 0.5)
    assert (report["null_refused"], report["answerable_refused"]) == (0.0, 0.0)
    assert report["latency_p50_ms"] == 200.0
    # Each answer: every claim carries one marker; one answer's claim is unsupported.
    assert (rows[0].sentences, rows[0].sentences_cited) == (2, 2)
    assert report["sentences_cited"] == 1.0 and report["answers_without_citation"] == 0


def test_uncited_claims_and_answers_without_a_citation_are_counted():
    factoid = EvalQuestion("q1", "Which show?", ("Squid Game",), ("a1",), (), "factoid")
    other = EvalQuestion("q2", "Which film?", ("Blue Orchard",), ("a1",), (), "factoid")
    half = Answer(
        question="Which show?",
        answer="Netflix renewed Squid Game [1]. It will stream in 2031.",
        refused=False,
        backend="openai:m",
        citations=[citation("a1", "Netflix renewed Squid Game.")],
        unsupported=["It will stream in 2031."],
    )
    bare = Answer(
        question="Which film?",
        answer="Blue Orchard won.",
        refused=False,
        backend="openai:m",
        unsupported=["Blue Orchard won."],
    )
    rows = [judge(factoid, half, 1.0), judge(other, bare, 1.0)]
    report = summarise(rows, [factoid, other], "openai:m")
    assert report.sentences_cited == pytest.approx(1 / 3)
    assert report.answers_without_citation == 1


TOPICS = [
    ("harbour", "Kestrel Bay harbour reopens", "The Kestrel Bay harbour reopened to ferries."),
    ("turbine", "Vandrel wins turbine order", "Vandrel Energy will supply forty turbines."),
    ("bakery", "Crumbwell expands", "Crumbwell Bakeries opened twelve new shops."),
    ("rail", "Rail strike", "Train drivers began a national rail strike over pay."),
    ("museum", "Quillmoor museum", "The Quillmoor museum opened a new dinosaur hall."),
    ("zoo", "Zoo welcomes pandas", "Two giant pandas arrived at the Ashford zoo."),
    ("bridge", "Bridge closes", "The Old Mill bridge closed for six months of repairs."),
    ("mayor", "Mayor elected", "Dana Pierce was elected mayor of Halden on Sunday."),
    ("storm", "Storm Nora", "Storm Nora cut power to 40,000 homes in the west."),
    ("vaccine", "Flu vaccine", "Pharmacies began offering the new flu vaccine."),
    ("film", "Film festival", "The Larkspur film festival gave its top prize to Blue Orchard."),
    ("market", "Markets fall", "Stocks fell sharply as oil prices jumped overnight."),
]


def test_the_eval_command_end_to_end(tmp_path):
    articles = tmp_path / "articles.jsonl"
    articles.write_text(
        "".join(
            json.dumps(
                {
                    "id": f"a-{key}",
                    "title": title,
                    "source": "Test Times",
                    "published_at": "2022-06-1" + str(i % 10),
                    "url": f"https://example.com/{key}",
                    "body": f"{body} Officials said more details would follow.",
                }
            )
            + "\n"
            for i, (key, title, body) in enumerate(TOPICS)
        ),
        encoding="utf-8",
    )
    questions = [
        {
            "id": "q-mayor",
            "question": "Who was elected mayor of Halden this week?",
            "answers": ["Dana Pierce"],
            "gold_article_ids": ["a-mayor"],
            "possible_alt_support_ids": [],
            "type": "factoid",
            "question_date": "2022-06-19",
        },
        {
            "id": "q-storm",
            "question": "How many homes lost power in Storm Nora?",
            "answers": ["40,000"],
            "gold_article_ids": ["a-storm"],
            "possible_alt_support_ids": [],
            "type": "factoid",
            "question_date": "2022-06-19",
        },
        {
            "id": "q-null",
            "question": "Which airline began weighing passengers this week?",
            "answers": ["Insufficient information"],
            "gold_article_ids": [],
            "possible_alt_support_ids": [],
            "type": "null",
            "question_date": "2023-06-01",
        },
    ]
    qfile = tmp_path / "questions.jsonl"
    qfile.write_text("".join(json.dumps(q) + "\n" for q in questions), encoding="utf-8")
    out = tmp_path / "rows.jsonl"
    env = {"ASSISTANT_LLM": "extractive"}
    data = tmp_path / "data"
    args = ["eval", "--articles", str(articles), "--questions", str(qfile)]

    first = run_cli([*args, "--json", "--out", str(out)], data=data, env=env)
    assert first.returncode == 0, first.stderr
    report = json.loads(first.stdout)
    assert set(report) == KEYS and report["questions"] == 3
    assert report["backend"] == "extractive"
    assert (report["hit_at_1"], report["answer_recall"], report["null_refused"]) == (1.0, 1.0, 1.0)
    assert report["answerable_refused"] == 0.0 and report["citation_precision"] == 1.0
    assert "built the eval index" in first.stderr and "asking" in first.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in rows] == ["q-mayor", "q-storm", "q-null"]
    assert all(r.keys() >= ROW_FIELDS for r in rows)
    assert len(rows[0]["retrieved_article_ids"]) >= 10
    assert rows[0]["retrieved_article_ids"][0] == "a-mayor"
    assert rows[0]["citations"][0]["article_id"] == "a-mayor"
    assert rows[2]["refused"] and rows[2]["citations"] == []

    second = run_cli(args, data=data, env=env)
    assert second.returncode == 0, second.stderr
    assert "reused the eval index" in second.stderr and "| hit@4 |" in second.stdout


def test_a_bad_questions_file_is_a_usage_error(tmp_path):
    from assistant.eval import load_questions
    from index.errors import UsageError

    bad = tmp_path / "q.jsonl"
    bad.write_text('{"question": "ok?", "question_date": "2022-06-01"}\n{"nope": 1}\n')
    with pytest.raises(UsageError, match=r"q\.jsonl:2"):
        load_questions(bad)
    with pytest.raises(UsageError, match="cannot read the questions file"):
        load_questions(tmp_path / "missing.jsonl")
    bad.write_text('{"question": "ok?", "question_date": "2022-06-01"}\n')
    assert load_questions(bad)[0].question_date == date(2022, 6, 1)


# -- MultiHop-RAG's evidence facts --------------------------------------------------------

EVIDENCE_KEYS = {
    "fact_hit_at_4",
    "fact_hit_at_10",
    "fact_mrr_at_10",
    "all_evidence_at_4",
    "all_evidence_at_5",
    "by_type",
}


def chunk_hit(article_id: str, text: str, start: int = 0) -> Hit:
    return Hit(
        chunk_id=f"{article_id}:{start}",
        article_id=article_id,
        title="t",
        source="s",
        published_at="2023-12-01",
        url="u",
        text=text,
        start=start,
        end=start + len(text),
        score=1.0,
    )


def reply(text: str, *, refused: bool = False) -> Answer:
    return Answer(question="q", answer=text, refused=refused, backend="extractive")


def test_evidence_fact_ranks_all_evidence_and_the_breakdown_by_type():
    # The fact matches across different whitespace; the gold articles a1 and a2 are the
    # 2nd and 5th distinct articles of i1's chunks.
    i1 = EvalQuestion(
        "i1",
        "Who?",
        ("Dana Pierce",),
        ("a1", "a2"),
        type="inference",
        evidence_facts=("Dana Pierce was elected\n mayor.",),
    )
    i2 = EvalQuestion(
        "i2", "What?", ("tunnel",), ("a1",), type="inference", evidence_facts=("Nowhere.",)
    )
    c1 = EvalQuestion(
        "c1",
        "Did?",
        ("Yes",),
        ("a1", "a2"),
        type="comparison",
        evidence_facts=("Alpha fell.", "Beta  rose."),
    )
    n1 = EvalQuestion("n1", "Which?", ("Insufficient information.",), (), type="null")
    i1_chunks = [
        chunk_hit("a3", "Nothing here."),
        chunk_hit("a1", "Officials said Dana Pierce was elected mayor. More later.", 40),
        chunk_hit("a3", "Still nothing.", 20),
        chunk_hit("a4", "Other news."),
        chunk_hit("a5", "More news."),
        chunk_hit("a2", "Dana Pierce was elected mayor."),
    ]
    rows = [
        judge(i1, reply("Dana Pierce [1]."), 10.0, chunks=i1_chunks),
        judge(i2, reply("No idea.", refused=True), 10.0, chunks=[chunk_hit("a1", "A tunnel.")]),
        judge(
            c1,
            reply("Yes [1]."),
            10.0,
            chunks=[chunk_hit("a2", "Beta rose."), chunk_hit("a1", "x")],
        ),
        judge(n1, reply("", refused=True), 10.0, chunks=[chunk_hit("a1", "Dana Pierce.")]),
    ]
    assert [r.fact_rank for r in rows] == [2, None, 1, None]
    assert [r.all_evidence_rank for r in rows] == [5, 1, 2, None]
    assert rows[0].retrieved_chunks[1] == {
        "article_id": "a1",
        "start": 40,
        "end": 40 + len(i1_chunks[1].text),
        "text": i1_chunks[1].text,
    }
    assert len(rows[0].retrieved_chunks) == 6

    report = summarise(rows, [i1, i2, c1, n1], "extractive")
    data = report.to_dict()
    assert set(data) == KEYS | EVIDENCE_KEYS
    # Over the three answerable questions with facts: ranks 2, none, 1.
    assert (data["fact_hit_at_4"], data["fact_hit_at_10"]) == (0.6667, 0.6667)
    assert data["fact_mrr_at_10"] == 0.5
    # Gold covered by the first 5 distinct articles for all three, by the first 4 for two.
    assert (data["all_evidence_at_4"], data["all_evidence_at_5"]) == (0.6667, 1.0)
    assert list(data["by_type"]) == ["comparison", "inference", "null"]
    assert data["by_type"]["null"] == {"questions": 1, "null_refused": 1.0}
    inference = data["by_type"]["inference"]
    assert inference["questions"] == 2 and inference["answer_recall"] == 0.5
    assert (inference["fact_hit_at_4"], inference["fact_mrr_at_10"]) == (0.5, 0.25)
    assert (inference["all_evidence_at_4"], inference["all_evidence_at_5"]) == (0.5, 1.0)
    assert inference["answerable_refused"] == 0.5 and "null_refused" not in inference
    comparison = data["by_type"]["comparison"]
    assert (comparison["fact_hit_at_4"], comparison["all_evidence_at_4"]) == (1.0, 1.0)
    assert comparison["answer_recall"] == 1.0

    table = format_table({"run": report})
    assert "| evidence fact in chunk MRR@10 | 0.500 |" in table
    assert "| all evidence articles in top 5 | 1.000 |" in table
    by_type = format_by_type(report)
    assert by_type.splitlines()[0] == "| metric by type | comparison | inference | null |"
    assert "| null refused |  |  | 1.000 |" in by_type
    assert "| evidence fact in chunk hit@4 | 1.000 | 0.500 |  |" in by_type

    # Rows judged without the eval's search (like bench's stock recipe) score no chunks.
    unmeasured = summarise([judge(i1, reply("Dana Pierce."), 1.0)], [i1], "stock")
    assert unmeasured.fact_hit_at_4 is None and unmeasured.all_evidence_at_5 is None
    assert "| evidence fact in chunk hit@4 | n/a |" in format_table({"stock": unmeasured})


def test_questions_without_evidence_facts_keep_the_report_as_it_was():
    factoid = EvalQuestion("q1", "Which show?", ("Squid Game",), ("a1",), type="factoid")
    row = judge(factoid, reply("Squid Game [1]."), 1.0, chunks=[chunk_hit("a1", "Squid Game.")])
    assert row.fact_rank is None and row.all_evidence_rank == 1
    report = summarise([row], [factoid], "extractive")
    assert set(report.to_dict()) == KEYS and report.by_type is None
    assert "evidence" not in format_table({"run": report}) and format_by_type(report) == ""


LONG_BODY = " ".join(
    f"Councillor {name} spoke for {n} minutes about the harbour budget and its repairs."
    for n, name in enumerate(
        ["Abel", "Bryn", "Cato", "Dara", "Eames", "Fenn", "Gale", "Hale", "Ivo", "Jude", "Kell"]
        * 2,
        start=3,
    )
) + (
    " The Brindle tunnel will open to cyclists in March, the council said."
    " Councillor Lorne closed the meeting."
)
MULTIHOP_QUESTIONS = [
    {
        "id": "m-mayor",
        "question": "Who was elected mayor of Halden on Sunday, as reported by Test Times?",
        "answers": ["Dana Pierce"],
        "gold_article_ids": ["a-mayor"],
        "evidence_facts": ["Dana Pierce was elected\nmayor of  Halden on Sunday."],
        "type": "inference",
        "question_date": "2023-12-31",
    },
    {
        "id": "m-tunnel",
        "question": "When will the Brindle tunnel open to cyclists?",
        "answers": ["March"],
        "gold_article_ids": ["a-council"],
        "evidence_facts": ["The Brindle tunnel will open to cyclists in March, the council said."],
        "type": "inference",
        "question_date": "2023-12-31",
    },
    {
        "id": "m-storm-bridge",
        "question": "Did Storm Nora cut power in the west while the Old Mill bridge closed?",
        "answers": ["Yes"],
        "gold_article_ids": ["a-storm", "a-bridge"],
        "evidence_facts": [
            "Storm Nora cut power to 40,000 homes in the west.",
            "The Old Mill bridge closed for six months of repairs.",
        ],
        "type": "comparison",
        "question_date": "2023-12-31",
    },
    {
        "id": "m-nowhere",
        "question": "Did the Quillmoor museum sell its dinosaur hall to a circus?",
        "answers": ["No"],
        "gold_article_ids": ["a-museum", "a-not-indexed"],
        "evidence_facts": ["The Quillmoor museum sold its dinosaur hall to a circus."],
        "type": "comparison",
        "question_date": "2023-12-31",
    },
    {
        "id": "m-null",
        "question": "Which airline began weighing passengers this week?",
        "answers": ["Insufficient information."],
        "gold_article_ids": [],
        "type": "null",
        "question_date": "2023-12-31",
    },
]


def test_the_eval_command_scores_evidence_facts_and_writes_the_chunks(tmp_path):
    bodies = {
        f"a-{key}": f"{body} Officials said more details would follow." for key, _, body in TOPICS
    }
    bodies["a-council"] = LONG_BODY
    titles = {f"a-{key}": title for key, title, _ in TOPICS} | {"a-council": "Council meets"}
    articles = tmp_path / "articles.jsonl"
    articles.write_text(
        "".join(
            json.dumps(
                {
                    "id": aid,
                    "title": titles[aid],
                    "source": "Test Times",
                    "published_at": "2023-12-0" + str(i % 9 + 1),
                    "url": f"https://example.com/{aid}",
                    "body": body,
                }
            )
            + "\n"
            for i, (aid, body) in enumerate(bodies.items())
        ),
        encoding="utf-8",
    )
    qfile = tmp_path / "questions.jsonl"
    qfile.write_text("".join(json.dumps(q) + "\n" for q in MULTIHOP_QUESTIONS), encoding="utf-8")
    out = tmp_path / "rows.jsonl"
    env = {"ASSISTANT_LLM": "extractive"}
    data = tmp_path / "data"
    args = ["eval", "--articles", str(articles), "--questions", str(qfile)]

    result = run_cli([*args, "--json", "--out", str(out)], data=data, env=env)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert set(report) == KEYS | EVIDENCE_KEYS and report["questions"] == 5
    rows = {r["id"]: r for r in map(json.loads, out.read_text().splitlines())}
    assert list(rows) == [q["id"] for q in MULTIHOP_QUESTIONS]
    for row in rows.values():
        chunks = row["retrieved_chunks"]
        assert len(chunks) == 10
        for chunk in chunks:
            assert set(chunk) == {"article_id", "start", "end", "text"}
            assert bodies[chunk["article_id"]][chunk["start"] : chunk["end"]] == chunk["text"]
    # The long article is split; the first chunk holding the tunnel sentence starts after 0.
    tunnel_rank = rows["m-tunnel"]["fact_rank"]
    assert tunnel_rank is not None and tunnel_rank <= 2
    before, tunnel = (
        rows["m-tunnel"]["retrieved_chunks"][: tunnel_rank - 1],
        rows["m-tunnel"]["retrieved_chunks"][tunnel_rank - 1],
    )
    assert tunnel["article_id"] == "a-council" and tunnel["start"] > 0
    assert "Brindle tunnel" in tunnel["text"] and not any("Brindle" in c["text"] for c in before)
    assert rows["m-mayor"]["fact_rank"] == 1
    assert rows["m-storm-bridge"]["fact_rank"] == 1
    assert rows["m-nowhere"]["fact_rank"] is None and rows["m-null"]["fact_rank"] is None
    assert (
        rows["m-mayor"]["all_evidence_rank"] == 1
        and rows["m-storm-bridge"]["all_evidence_rank"] == 2
    )
    assert rows["m-nowhere"]["all_evidence_rank"] is None  # a gold article is not indexed

    mrr = (1 + 1 / tunnel_rank + 1) / 4
    assert (report["fact_hit_at_4"], report["fact_mrr_at_10"]) == (0.75, round(mrr, 4))
    assert (report["all_evidence_at_4"], report["all_evidence_at_5"]) == (0.75, 0.75)
    assert set(report["by_type"]) == {"comparison", "inference", "null"}
    assert report["by_type"]["inference"]["fact_hit_at_10"] == 1.0
    assert report["by_type"]["comparison"]["fact_hit_at_10"] == 0.5
    assert report["by_type"]["comparison"]["questions"] == 2
    assert report["by_type"]["null"] == {"questions": 1, "null_refused": 1.0}

    table = run_cli(args, data=data, env=env)
    assert table.returncode == 0, table.stderr
    assert "| all evidence articles in top 5 | 0.750 |" in table.stdout
    assert "| metric by type | comparison | inference | null |" in table.stdout
