"""Bad input of every kind gets one clear error naming the file and reason, and never
stops the rest: property-based tests for the loaders, odd folders, huge files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from index import LoadError, iter_files, load_file
from index.loaders import SUPPORTED_SUFFIXES

SUFFIXES = sorted(SUPPORTED_SUFFIXES)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.binary(max_size=2000), suffix=st.sampled_from(SUFFIXES))
def test_any_bytes_in_any_supported_file_load_or_fail_with_a_load_error(tmp_path, data, suffix):
    path = tmp_path / f"f{suffix}"
    path.write_bytes(data)
    try:
        loaded = load_file(path)
    except LoadError as e:
        assert e.path == str(path) and e.reason
        return
    for article in loaded.articles:
        assert article.body.strip() and article.id and article.title
    for error in loaded.errors:
        assert error.path.startswith(str(path)) and error.reason


_json_value = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=8,
)
_article_like = st.fixed_dictionaries(
    {},
    optional={
        "title": _json_value,
        "body": _json_value | st.text(min_size=1, max_size=80),
        "text": _json_value,
        "published_at": _json_value
        | st.sampled_from(["2025-11-04", "not a date", "", "4 Nov 2025"]),
        "date": _json_value,
        "source": _json_value,
        "url": _json_value,
        "authors": _json_value,
        "id": _json_value,
    },
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=st.lists(_article_like | _json_value, min_size=1, max_size=6))
def test_any_json_lines_keep_the_good_rows_and_name_each_bad_line(tmp_path, rows):
    path = tmp_path / "feed.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    # Every row is a non-blank ASCII line (json.dumps escapes newlines and non-ASCII), so
    # the file as a whole is never refused: each line is an article or an error of its own.
    loaded = load_file(path)
    assert len(loaded.articles) + len(loaded.errors) == len(rows)
    good = {
        i + 1
        for i, r in enumerate(rows)
        if isinstance(r, dict) and isinstance(r.get("body"), str) and r["body"].strip()
    }
    for error in loaded.errors:
        line = int(error.path.rsplit(":", 1)[1])
        assert line not in good or "field" in error.reason


def test_deeply_nested_folders_are_walked(tmp_path):
    folder = tmp_path
    for depth in range(60):
        folder = folder / f"level{depth}"
    folder.mkdir(parents=True)
    (folder / "deep.txt").write_text("A deep article. It is far down.")
    found = [p for p in iter_files([tmp_path]) if isinstance(p, Path)]
    assert [p.name for p in found] == ["deep.txt"]


def test_a_broken_symlink_is_reported(tmp_path):
    (tmp_path / "dangling.txt").symlink_to(tmp_path / "missing-target.txt")
    (error,) = list(iter_files([tmp_path]))
    assert isinstance(error, LoadError) and "broken symbolic link" in error.reason


def test_an_oversized_file_is_refused_before_it_is_read(tmp_path):
    big = tmp_path / "big.txt"
    with big.open("wb") as f:  # sparse: 60 MB on paper, nothing on disk
        f.truncate(60 * 1024 * 1024)
    with pytest.raises(LoadError, match=r"60\.\d MB, over the 50 MB limit.*ASSISTANT_MAX_FILE_MB"):
        load_file(big, max_bytes=50 * 1024 * 1024)


def test_a_pdf_without_a_text_layer_says_so(tmp_path):
    from test_loaders import _pdf_with_text

    # A page whose only content is a drawn rectangle: no text to extract.
    pdf = _pdf_with_text("x").replace(
        b"BT /F1 12 Tf 72 720 Td (x) Tj ET", b"10 10 m 50 50 l S".ljust(32)
    )
    path = tmp_path / "scan.pdf"
    path.write_bytes(pdf)
    with pytest.raises(LoadError, match="no text layer"):
        load_file(path)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("Caf\u00e9 prices rose.".encode("utf-16-le"), "binary"),  # UTF-16 without a BOM
        (b"Plain \xe9t\xe9 text in Windows-1252 \x93quoted\x94", None),
        (b"Bytes no encoding here knows \x81\x8d\x8f\x90\x9d", "not valid UTF-8"),
    ],
)
def test_undecodable_text_is_decoded_or_reported(tmp_path, content, expected):
    path = tmp_path / "odd.txt"
    path.write_bytes(content)
    if expected is None:
        (article,) = load_file(path).articles
        assert article.body.startswith("Plain")
    else:
        with pytest.raises(LoadError, match=expected):
            load_file(path)
