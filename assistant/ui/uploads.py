"""Uploaded files: the names their copies get, the copying with its type and size checks, and
deleting a copy no indexed article needs. No gradio here.

Uploads are copied into `<data dir>/uploads` under names `safe_upload_name` makes (never a
path), one file at a time: a file of another type or over ASSISTANT_MAX_FILE_MB gets its own
failed row and the others are still indexed.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from index.loaders import SUPPORTED_SUFFIXES

__all__ = [
    "MAX_NAME_BYTES",
    "UPLOAD_CACHE_SECONDS",
    "UPLOAD_CAP_FACTOR",
    "UPLOAD_DIR",
    "CopiedUploads",
    "Refused",
    "copy_upload",
    "copy_uploads",
    "forget_upload",
    "safe_upload_name",
]

log = logging.getLogger(__name__)

UPLOAD_DIR = "uploads"
# An upload's copy is named with at most this many UTF-8 bytes (file systems allow 255).
MAX_NAME_BYTES = 150
# Gradio cuts off any single uploaded file over this many times ASSISTANT_MAX_FILE_MB while it
# streams in. Up to there the page refuses an oversized file itself, with a row naming it,
# and still indexes the others; Gradio's own check would drop the whole selection.
UPLOAD_CAP_FACTOR = 2
# Gradio's temporary copies of uploads are deleted this many seconds after they arrive (the
# page copies what it indexes into ASSISTANT_DATA_DIR/uploads at once).
UPLOAD_CACHE_SECONDS = 3600


def safe_upload_name(name: str, taken: set[str]) -> str:
    """The name an uploaded file is copied under: the last part of `name` (no folders),
    letters, digits, spaces and ``_ . - ( ) [ ] , + & '`` only (anything else becomes _),
    no leading dot, at most MAX_NAME_BYTES bytes, and unique (ignoring case) in `taken`,
    which it joins. Nothing in `name` can point the copy outside the upload folder."""
    base = unicodedata.normalize("NFC", name.replace("\\", "/").rsplit("/", 1)[-1])
    base = re.sub(r"[^\w.\-()\[\],+&' ]+", "_", base).strip(" .")
    stem, suffix = os.path.splitext(base)
    if len(suffix) > 12 or not re.fullmatch(r"\.\w+", suffix or ".x"):
        stem, suffix = base, ""  # not a real extension: keep it in the name
    stem = stem.strip(" .") or "upload"

    def fit(stem: str, tail: str) -> str:
        while len(f"{stem}{tail}".encode()) > MAX_NAME_BYTES and len(stem) > 1:
            stem = stem[:-1]
        return f"{stem.rstrip(' .') or 'upload'}{tail}"

    candidate, i = fit(stem, suffix), 2
    while candidate.casefold() in taken:
        candidate, i = fit(stem, f"-{i}{suffix}"), i + 1
    taken.add(candidate.casefold())
    return candidate


class Refused(Exception):
    """An uploaded file that is not copied, with the reason in words."""


def _megabytes(size: float) -> str:
    return f"{size / (1024 * 1024):.1f} MB" if size >= 102.4 * 1024 else f"{size / 1024:.0f} KB"


def copy_upload(source: Path, folder: Path, name: str, *, limit: int, limit_mb: float) -> Path:
    """Copy an uploaded file into `folder` as `name` (see `safe_upload_name`), refusing a
    type the loaders cannot read or a file over `limit` bytes before copying it. The copy is
    written under a temporary name and renamed, so no half-copied file is ever indexed and
    a link planted at the target is replaced, never followed."""
    suffix = Path(name).suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        what = f"{suffix} files" if suffix else "files without an extension"
        raise Refused(f"{what} cannot be indexed; upload .txt, .md, .html, .json, .jsonl or .pdf")
    too_big = f"over the {limit_mb:g} MB limit per file (ASSISTANT_MAX_FILE_MB); split it"
    try:
        size = source.stat().st_size
    except OSError as e:
        raise Refused(f"the upload could not be read ({e.strerror or e})") from e
    if size > limit:
        raise Refused(f"file is {_megabytes(size)}, {too_big}")
    target = folder / name
    if target.parent != folder or name in ("", ".", ".."):
        raise Refused("the file name is not usable")  # safe_upload_name prevents this
    fd, part = tempfile.mkstemp(dir=folder, prefix=".upload-", suffix=".part")
    try:
        copied = 0
        with os.fdopen(fd, "wb") as out, source.open("rb") as src:
            while block := src.read(1 << 20):
                copied += len(block)
                if copied > limit:  # the file grew since the check
                    raise Refused(f"file is over {_megabytes(limit)}, {too_big}")
                out.write(block)
        os.replace(part, target)
    except OSError as e:
        raise Refused(f"the upload could not be copied ({e.strerror or e})") from e
    finally:
        Path(part).unlink(missing_ok=True)
    return target


@dataclass(slots=True)
class CopiedUploads:
    """The copies made of one upload, and a failed report row for each file refused."""

    copies: list[Path] = field(default_factory=list)
    refused: list[dict[str, Any]] = field(default_factory=list)

    def drop_unindexed(self, indexed: set[str]) -> None:
        """Delete the copies of files that gave no indexed article (`indexed`: their paths)."""
        for copy in self.copies:
            if str(copy.resolve()) not in indexed:
                copy.unlink(missing_ok=True)


def copy_uploads(files: Iterable[Any], folder: Path, *, limit_mb: float) -> CopiedUploads:
    """Copy each uploaded file (a path, or an object with `.path`) into `folder`, each under
    its own safe name; a file that is refused gets a failed row and the rest go on."""
    folder.mkdir(parents=True, exist_ok=True)
    limit = int(limit_mb * 1024 * 1024)
    taken: set[str] = set()
    result = CopiedUploads()
    for f in files:
        source = Path(f if isinstance(f, str) else getattr(f, "path", str(f)))
        name = safe_upload_name(source.name, taken)
        try:
            result.copies.append(copy_upload(source, folder, name, limit=limit, limit_mb=limit_mb))
        except Refused as e:
            result.refused.append(
                {"file": name, "status": "failed", "articles": 0, "detail": str(e)}
            )
    return result


def forget_upload(path: str, folder: Path, indexed_paths: Iterable[str]) -> None:
    """Delete an uploaded file's copy once no indexed article comes from it (`indexed_paths`:
    the paths of the articles indexed now). Only copies in `folder` are ever deleted."""
    try:
        target = Path(path)
        if target.parent.resolve() != folder.resolve():
            return  # only files the page uploaded, never the user's own folders
        if any(p == path for p in indexed_paths):
            return
        target.unlink(missing_ok=True)
    except OSError:
        log.warning("could not delete the uploaded copy %s", path, exc_info=True)
