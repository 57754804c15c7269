"""`assistant eval`: lenient answer matching, metrics, and the command end to end on a
small article set written by the test (its own index, reused on the second run)."""

from __future__ import annotations

import json
from datetime import date

import pytest
from conftest import run_cli

from assistant.eval import EvalQuestion, answer_found, judge, lenient, summarise
from assistant.models import Answer, Citation

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
