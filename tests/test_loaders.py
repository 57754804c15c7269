"""Loading every supported format, and a clear error for every kind of bad file."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from index import LoadError, iter_files, load_file


def write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def test_plain_text_with_a_leading_date_line(tmp_path):
    path = write(
        tmp_path / "x.txt", " date 2025-11-04 GEM agreed to work with Ascend Elements. More text.\n"
    )
    (article,) = load_file(path).articles
    assert article.published_at == date(2025, 11, 4)
    assert article.body.startswith("GEM agreed")
    assert article.id == str(path.resolve())


def test_text_headline_and_header_lines(tmp_path):
    path = write(
        tmp_path / "n.txt",
        "date: 2024-01-02\nsource: Grid Weekly\nurl: https://example.com/a\n"
        "Utility buys batteries\n\nThe utility bought batteries. They arrive in May.\n",
    )
    (article,) = load_file(path).articles
    assert article.title == "Utility buys batteries"
    assert article.source == "Grid Weekly"
    assert article.url == "https://example.com/a" and article.id == "https://example.com/a"
    assert article.body == "The utility bought batteries. They arrive in May."


def test_markdown_front_matter_and_heading(tmp_path):
    path = write(
        tmp_path / "a.md",
        "---\ntitle: Deal signed\nsource: Battery Brief\ndate: 2025-11-04\n"
        "url: https://example.com/deal\nauthors: [Ann Lee, Bo Chan]\n---\n"
        "# Ignored heading\n\nThe **deal** was [signed](https://x.y) today.\n",
    )
    (article,) = load_file(path).articles
    assert (article.title, article.source, article.url) == (
        "Deal signed",
        "Battery Brief",
        "https://example.com/deal",
    )
    assert article.published_at == date(2025, 11, 4)
    assert article.authors == ("Ann Lee", "Bo Chan")
    assert article.body == "The deal was signed today."


def test_html_news_page_main_text_and_metadata(tmp_path):
    html = """<html><head><title>Recycler opens plant | Daily</title>
    <meta property="og:title" content="Recycler opens plant">
    <meta property="og:site_name" content="Daily Planet">
    <meta property="article:published_time" content="2025-05-06">
    <link rel="canonical" href="https://example.com/plant"></head>
    <body><nav>Home | Sport | Weather</nav><article><h1>Recycler opens plant</h1>
    <p>A battery recycler opened a new plant in Ohio on Tuesday, creating 300 jobs for the region.</p>
    <p>The plant will process scrap from nearby battery factories and recover lithium and nickel.</p>
    </article><footer>Subscribe now</footer></body></html>"""
    (article,) = load_file(write(tmp_path / "p.html", html)).articles
    assert article.title == "Recycler opens plant"
    assert article.source == "Daily Planet"
    assert article.published_at == date(2025, 5, 6)
    assert article.url == "https://example.com/plant"
    assert "recover lithium and nickel" in article.body
    assert "Subscribe now" not in article.body and "Sport" not in article.body


def test_json_list_and_field_aliases(tmp_path):
    data = [
        {
            "title": "A",
            "text": "Alpha body text here.",
            "date": "2025-01-02",
            "source": "X",
            "url": "https://e.com/a",
        },
        {
            "title": "B",
            "content": "Beta body text here.",
            "published_at": "March 3, 2024",
            "authors": "Ann, Bob",
        },
    ]
    loaded = load_file(write(tmp_path / "a.json", json.dumps(data)))
    a, b = loaded.articles
    assert (a.id, a.body, a.published_at) == (
        "https://e.com/a",
        "Alpha body text here.",
        date(2025, 1, 2),
    )
    assert b.published_at == date(2024, 3, 3) and b.authors == ("Ann", "Bob")
    assert b.id.endswith("a.json#2")


def test_jsonl_bad_lines_are_reported_and_good_ones_kept(tmp_path):
    lines = [
        json.dumps({"id": "x1", "title": "Good", "body": "Good body."}),
        "{not json",
        json.dumps({"title": "No body"}),
        json.dumps({"id": "x4", "title": "Bad date", "body": "Text.", "published_at": "someday"}),
        json.dumps({"id": "x5", "title": "Also good", "body": "More text."}),
        json.dumps({"id": "x6", "title": "Huge timestamp", "body": "T.", "date": 9.2e18}),
        json.dumps({"id": "x7", "title": "Timestamp", "body": "T.", "date": 1762257600}),
    ]
    loaded = load_file(write(tmp_path / "a.jsonl", "\n".join(lines)))
    assert [a.id for a in loaded.articles] == ["x1", "x5", "x7"]
    assert loaded.articles[2].published_at == date(2025, 11, 4)  # noon UTC, any zone
    errors = {e.path.rsplit(":", 1)[1]: e.reason for e in loaded.errors}
    assert set(errors) == {"2", "3", "4", "6"}
    assert "field 'date'" in errors["6"] and "timestamp out of range" in errors["6"]
    assert "malformed JSON" in errors["2"]
    assert "'body'" in errors["3"]
    assert "published_at" in errors["4"] and "YYYY-MM-DD" in errors["4"]


def test_pdf_text_layer(tmp_path):
    pdf = _pdf_with_text("Solid-state batteries reach pilot production in Japan.")
    (article,) = load_file(write(tmp_path / "s.pdf", pdf)).articles
    assert "Solid-state batteries reach pilot production" in article.body


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("empty.txt", "", "empty"),
        ("blank.md", "   \n\n ", "empty"),
        ("binary.txt", b"\x00\x01\x02\x03" * 100, "binary"),
        ("bad.json", "{broken", "malformed JSON"),
        ("photo.png", b"\x89PNG\r\n", "unsupported file type"),
        ("scan.pdf", b"%PDF-1.4 not really a pdf", "PDF"),
        ("front.md", "---\ntitle: [unclosed\n---\nBody.", "front matter"),
        (
            "nobody.html",
            "<html><head><title>t</title></head><body></body></html>",
            "no article text",
        ),
    ],
)
def test_bad_files_raise_an_error_naming_the_file_and_reason(tmp_path, name, content, reason):
    path = write(tmp_path / name, content)
    with pytest.raises(LoadError) as info:
        load_file(path)
    assert info.value.path == str(path)
    assert reason.lower() in info.value.reason.lower()


def test_legacy_encodings_are_decoded(tmp_path):
    utf16 = write(tmp_path / "u16.txt", "Café owners cheer the new battery plant.".encode("utf-16"))
    latin = write(tmp_path / "l1.txt", "Café owners cheer the new battery plant.".encode("cp1252"))
    for path in (utf16, latin):
        (article,) = load_file(path).articles
        assert article.body == "Café owners cheer the new battery plant."


def test_size_limit(tmp_path):
    path = write(tmp_path / "big.txt", "word " * 1000)
    with pytest.raises(LoadError, match="limit"):
        load_file(path, max_bytes=100)


def test_walk_is_recursive_sorted_skips_hidden_and_survives_symlink_loops(tmp_path):
    write(tmp_path / "b" / "two.txt", "Two.")
    write(tmp_path / "a" / "one.md", "One.")
    write(tmp_path / ".hidden" / "x.txt", "Hidden.")
    (tmp_path / "b" / "loop").symlink_to(tmp_path, target_is_directory=True)
    found = list(iter_files([tmp_path, tmp_path / "missing.txt"]))
    paths = [p for p in found if isinstance(p, Path)]
    assert [p.name for p in paths] == ["one.md", "two.txt"]
    (error,) = [e for e in found if isinstance(e, LoadError)]
    assert "no such file" in error.reason


def _pdf_with_text(text: str) -> bytes:
    """A minimal one-page PDF with a text layer, written by hand (no PDF library needed)."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    out += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    )
    return bytes(out)


def test_a_null_optional_field_reads_as_a_missing_one(tmp_path):
    # As in a public news corpus: "author": null on 64 of 609 articles.
    rows = [
        {"id": "n1", "title": "T", "body": "Body one.", "author": None, "url": None},
        {"id": "n2", "title": None, "body": "Body two.", "source": None, "published_at": None},
        {"id": "n3", "title": "T3", "body": "Body three.", "authors": [None, "Ann"]},
    ]
    loaded = load_file(write(tmp_path / "a.jsonl", "\n".join(json.dumps(r) for r in rows)))
    assert not loaded.errors
    one, two, three = loaded.articles
    assert (one.authors, one.url) == ((), "")
    assert two.source == "" and two.published_at is None and two.title
    assert three.authors == ("Ann",)


def test_a_bad_field_is_named_as_the_file_names_it(tmp_path):
    rows = [
        {"id": "b1", "body": "Text.", "author": 5},
        {"id": "b2", "body": "Text.", "link": 7},
        {"id": "b3", "text": ["not", "a", "string"]},
    ]
    loaded = load_file(write(tmp_path / "a.jsonl", "\n".join(json.dumps(r) for r in rows)))
    reasons = [e.reason for e in loaded.errors]
    assert "field 'author' must be a list of names or a string" in reasons[0]
    assert "field 'link' must be a string" in reasons[1]
    assert "field 'text' must be a string" in reasons[2]


def test_an_html_headline_is_not_repeated_as_the_first_line_of_the_body(tmp_path):
    html = """<html><head><title>Recycler opens plant in Ohio | Daily</title>
    <meta property="og:title" content="Recycler opens plant in Ohio"></head>
    <body><article><h1>Recycler opens plant in Ohio</h1>
    <p>Two days after the vote, the recycler opened its plant in Ohio to great fanfare from
    the town.</p><p>It will employ 300 people from next year, the company said.</p>
    </article></body></html>"""
    (article,) = load_file(write(tmp_path / "p.html", html)).articles
    assert article.title == "Recycler opens plant in Ohio"
    assert article.body.startswith("Two days after the vote")
