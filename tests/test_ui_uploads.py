"""Uploads through the API, against the app served on loopback: crafted file names never
write outside ASSISTANT_DATA_DIR/uploads, a path the client did not upload is refused, and
oversized files, unsupported types and empty uploads each get a plain message while the
other files of the upload are indexed."""

from __future__ import annotations

import httpx
import pytest
from browser_app import serving

pytestmark = pytest.mark.slow

MARK = "Quillfeather"  # every test article says it, so its copies can be found on disk


def article(n: int, title: str = "") -> bytes:
    """A small, distinct article (distinct text, so none is a duplicate of another)."""
    head = f"title: {title}\n\n" if title else ""
    return (
        f"{head}The {MARK} lighthouse number {n} was restored in 2025 by volunteers from "
        f"harbour town {n}. Its lamp now runs on solar power, saving {n * 7} litres of "
        "diesel a year.\n"
    ).encode()


def copies_on_disk(root) -> list:
    """Every .txt or .md file under `root` that is a test article. Chroma's own files
    (.bin, .pickle, .sqlite3) may hold the text as well, so they do not count."""
    return sorted(
        p
        for p in root.rglob("*")
        if p.is_file() and p.suffix in (".txt", ".md") and MARK.encode() in p.read_bytes()[:200]
    )


def call(http: httpx.Client, api_name: str, data: list) -> tuple[str, str]:
    """Call a named endpoint over plain HTTP: (event, data) of its last message."""
    event_id = http.post(f"gradio_api/call/{api_name}", json={"data": data}).json()["event_id"]
    lines = http.get(f"gradio_api/call/{api_name}/{event_id}").text.strip().splitlines()
    events = [line.removeprefix("event: ") for line in lines if line.startswith("event: ")]
    payloads = [line.removeprefix("data: ") for line in lines if line.startswith("data: ")]
    return events[-1], payloads[-1]


@pytest.fixture
def app(sample_assistant):
    with serving(sample_assistant) as url:
        yield url


def test_crafted_names_in_a_raw_upload_stay_in_the_upload_folder(app, sample_assistant, tmp_path):
    data_dir = sample_assistant.settings.data_dir
    uploads = data_dir / "uploads"
    names = [
        "../../evil.txt",
        "/etc/cron.d/evil.txt",
        "..\\..\\..\\evil-win.txt",
        "C:\\Windows\\evil-drive.txt",
        "a\x00b.txt",
        "line\nbreak\x1b[31m.txt",
        "\u202etxt.md",
        "\uff0e\uff0e\uff0fevil-fullwidth.txt",
        "x" * 240 + ".txt",
        "<img src=x onerror=alert(1)>.txt",
        ".hidden.txt",
    ]
    with httpx.Client(base_url=app, timeout=120) as http:
        paths = []
        for n, name in enumerate(names):
            sent = http.post("gradio_api/upload", files={"files": (name, article(n), "text/plain")})
            assert sent.status_code == 200, (name, sent.text)
            paths.append(sent.json()[0])
        files = [{"path": p, "meta": {"_type": "gradio.FileData"}} for p in paths]
        event, payload = call(http, "ingest", [files])
    assert event == "complete", payload
    assert payload.count('"status": "added"') == len(names)

    on_disk = copies_on_disk(tmp_path)
    assert len(on_disk) == len(names)
    assert all(p.parent == uploads for p in on_disk), on_disk
    assert not (tmp_path / "evil.txt").exists() and not (data_dir / "evil.txt").exists()
    for p in on_disk:
        assert not p.name.startswith(".") and "\n" not in p.name and "<" not in p.name
        assert len(p.name.encode()) <= 150
    indexed = {r.path for r in sample_assistant.articles()}
    assert {str(p.resolve()) for p in on_disk} <= indexed


def test_crafted_local_names_through_gradio_client(app, sample_assistant, tmp_path):
    from gradio_client import Client, handle_file

    outside = tmp_path / "picked"
    outside.mkdir()
    names = [
        "..evil.txt",
        "..\\..\\evil.txt",
        "tab\there\x01ctl.txt",
        "\u202egnp.md",
        "e\u0301t\u00e9 \U0001f4f0.md",
        "-rf --no-preserve-root.txt",
        "y" * 200 + ".txt",
        "<b onmouseover=alert(1)>bold & 'q'.txt",
    ]
    for n, name in enumerate(names):
        (outside / name).write_bytes(article(100 + n))
    client = Client(app, verbose=False, download_files=False)
    report = client.predict([handle_file(outside / n) for n in names], api_name="/ingest")
    assert [row["status"] for row in report["files"]] == ["added"] * len(names), report
    uploads = sample_assistant.settings.data_dir / "uploads"
    copies = [p for p in copies_on_disk(tmp_path) if p.parent != outside]
    assert len(copies) == len(names) and all(p.parent == uploads for p in copies)
    shown = [row["file"] for row in report["files"]]
    assert sorted(shown) == sorted(p.name for p in copies)  # rows name the stored copies
    assert not any(ch in name for name in shown for ch in "<>\\\t\x01\u202e")


def test_a_path_the_client_did_not_upload_is_refused(app, sample_assistant, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_bytes(article(1, "The secret plan"))
    before = len(sample_assistant.articles())
    with httpx.Client(base_url=app, timeout=120) as http:
        for path in (str(secret), "/etc/passwd", "../../../../etc/hostname"):
            files = [{"path": path, "meta": {"_type": "gradio.FileData"}}]
            event, _ = call(http, "ingest", [files])
            assert event == "error", path
    assert len(sample_assistant.articles()) == before
    assert copies_on_disk(tmp_path) == [secret]


@pytest.fixture
def small_limit(make_assistant):
    """The app with a 0.02 MB (about 20 KB) limit per file."""
    assistant = make_assistant(llm="extractive", max_file_mb=0.02)
    with serving(assistant) as url:
        yield url, assistant


def test_an_oversized_file_is_refused_alone_before_it_is_copied(small_limit, tmp_path):
    from gradio_client import Client, handle_file

    url, assistant = small_limit
    big = tmp_path / "big.txt"
    big.write_bytes((article(1, "Too long") * 300)[:30_000])  # 29 KB: over 20, under 40
    good = tmp_path / "good.txt"
    good.write_bytes(article(2, "Small enough"))
    client = Client(url, verbose=False, download_files=False)
    report = client.predict([handle_file(big), handle_file(good)], api_name="/ingest")
    rows = {row["file"]: row for row in report["files"]}
    assert rows["good.txt"]["status"] == "added"
    assert rows["big.txt"]["status"] == "failed"
    assert rows["big.txt"]["detail"] == (
        "file is 29 KB, over the 0.02 MB limit per file (ASSISTANT_MAX_FILE_MB); split it"
    )
    assert report["failed"] == [{"file": "big.txt", "error": rows["big.txt"]["detail"]}]
    uploads = assistant.settings.data_dir / "uploads"
    assert sorted(p.name for p in uploads.iterdir()) == ["good.txt"]  # no copy, no .part
    assert [a.title for a in assistant.articles()] == ["Small enough"]


def test_a_far_too_big_file_is_cut_off_while_it_streams_in(small_limit, tmp_path):
    from gradio_client import Client, handle_file

    url, assistant = small_limit
    huge = tmp_path / "huge.txt"
    huge.write_bytes(b"x" * 200_000)  # ten times the limit
    with httpx.Client(base_url=url, timeout=60) as http:
        sent = http.post("gradio_api/upload", files={"files": ("huge.txt", huge.read_bytes())})
    assert sent.status_code == 413 and "maximum allowed size" in sent.text
    client = Client(url, verbose=False, download_files=False)
    with pytest.raises(ValueError, match="exceeds the maximum file size"):
        client.predict([handle_file(huge)], api_name="/ingest")
    assert not (assistant.settings.data_dir / "uploads").exists()


def test_no_files_or_unsupported_types_get_plain_messages(app, sample_assistant, tmp_path):
    from gradio_client import Client, handle_file
    from gradio_client.exceptions import AppError

    client = Client(app, verbose=False, download_files=False)
    with pytest.raises(AppError, match=r"^Choose one or more files first"):
        client.predict([], api_name="/ingest")

    files = {
        "notes.csv": b"a,b\n1,2\n",
        "photo.PNG": b"\x89PNG\r\n\x1a\n",
        "README": article(1),
        "story.md": article(2, "Lighthouse restored"),
    }
    for name, content in files.items():
        (tmp_path / name).write_bytes(content)
    report = client.predict([handle_file(tmp_path / n) for n in files], api_name="/ingest")
    rows = {row["file"]: (row["status"], row["detail"]) for row in report["files"]}
    kinds = "upload .txt, .md, .html, .json, .jsonl or .pdf"
    assert rows == {
        "notes.csv": ("failed", f".csv files cannot be indexed; {kinds}"),
        "photo.PNG": ("failed", f".png files cannot be indexed; {kinds}"),
        "README": ("failed", f"files without an extension cannot be indexed; {kinds}"),
        "story.md": ("added", ""),
    }
    uploads = sample_assistant.settings.data_dir / "uploads"
    assert [p.name for p in uploads.iterdir()] == ["story.md"]

    only_bad = client.predict([handle_file(tmp_path / "notes.csv")], api_name="/ingest")
    assert only_bad["added"] == 0 and [r["status"] for r in only_bad["files"]] == ["failed"]
