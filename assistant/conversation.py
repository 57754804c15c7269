"""A conversation kept in a file, so the CLI can ask follow-ups (`ask --continue`).

Every `assistant ask` records its exchange in `<data dir>/conversation.json` (a new
conversation unless `--continue`), or in the file `--conversation FILE` names.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from index.errors import UsageError

from .models import Turn

__all__ = ["MAX_TURNS", "ConversationFile"]

# Earlier exchanges kept in the file (the rewrite reads only the last few).
MAX_TURNS = 50


class ConversationFile:
    """The turns of one conversation, as a JSON file: {"turns": [{question, answer}]}."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> list[Turn]:
        """The earlier turns (none when the file does not exist yet)."""
        try:
            raw = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        except OSError as e:
            raise UsageError(f"cannot read the conversation file {self.path} ({e.strerror})") from e
        try:
            data = json.loads(raw)
            return [Turn(str(t["question"]), str(t["answer"])) for t in data["turns"]]
        except (ValueError, KeyError, TypeError) as e:
            raise UsageError(
                f"{self.path} is not a conversation file ({type(e).__name__}: {e}); "
                "delete it or name another one with --conversation"
            ) from e

    def save(self, turns: list[Turn]) -> None:
        """Write the last MAX_TURNS turns (atomically: a reader never sees half a file)."""
        data = {"turns": [{"question": t.question, "answer": t.answer} for t in turns[-MAX_TURNS:]]}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
        tmp.replace(self.path)
