"""The one settings object, read from the environment (and .env) once, at the edge."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from index.errors import ConfigError
from index.models import DEFAULT_EMBEDDING_MODEL

__all__ = ["Settings", "load_settings"]


class Settings(BaseSettings):
    """Every knob of the product; each field reads the env var named in its description."""

    model_config = SettingsConfigDict(
        env_prefix="ASSISTANT_", env_file=".env", extra="ignore", populate_by_name=True
    )

    data_dir: Path = Field(Path("data"), description="ASSISTANT_DATA_DIR: where the index lives")
    collection: str = Field("news", description="ASSISTANT_COLLECTION: Chroma collection prefix")
    embedding_model: str = Field(
        DEFAULT_EMBEDDING_MODEL,
        description="ASSISTANT_EMBEDDING_MODEL: sentence-transformers model name or folder",
    )
    device: str = Field("auto", description="ASSISTANT_DEVICE: auto, cpu, cuda, cuda:1, mps")
    embedding_precision: Literal["auto", "fp32", "bf16", "fp16"] = Field(
        "auto",
        description="ASSISTANT_EMBEDDING_PRECISION: auto (bf16 on a GPU or a CPU with "
        "bfloat16 units, else fp32), fp32, bf16, fp16",
    )
    max_file_mb: float = Field(
        50.0, gt=0, description="ASSISTANT_MAX_FILE_MB: larger files are refused"
    )
    ingest_batch: int = Field(
        1024, ge=1, le=100_000, description="ASSISTANT_INGEST_BATCH: chunks embedded per write"
    )
    lock_wait: float = Field(
        120.0, ge=0, description="ASSISTANT_LOCK_WAIT: seconds to wait for another ingest"
    )
    store_chunk_text: bool = Field(
        True,
        description="ASSISTANT_STORE_CHUNK_TEXT: write each chunk's text with its vector "
        "(false: about a third less disk, each text sliced from its article's body when read, "
        "searches slower at scale)",
    )
    malloc_arenas: int = Field(
        2,
        ge=0,
        le=64,
        description="ASSISTANT_MALLOC_ARENAS: memory pools glibc keeps for the process's "
        "threads (0: glibc's own default, eight per core; MALLOC_ARENA_MAX, when set, wins)",
    )
    fetch_timeout: float = Field(
        20.0,
        gt=0,
        le=600,
        description="ASSISTANT_FETCH_TIMEOUT: seconds a web server may take for each step of "
        "a request (a whole download may take 3x)",
    )
    fetch_private: bool = Field(
        False,
        description="ASSISTANT_FETCH_PRIVATE: let a server's fetches reach loopback, private "
        "and link-local addresses",
    )
    fetch_contact: str = Field(
        "",
        description="ASSISTANT_FETCH_CONTACT: a URL or e-mail address put in the User-Agent, so "
        "site owners can reach whoever runs the fetches",
    )

    sync_minutes: float = Field(
        30.0,
        ge=0,
        le=7 * 24 * 60,
        description="ASSISTANT_SYNC_MINUTES: minutes between the web server's background syncs "
        "of the followed feeds (0: none); also `assistant watch`'s default --interval",
    )

    chroma_host: str | None = Field(None, description="ASSISTANT_CHROMA_HOST: use a Chroma server")
    chroma_port: int = Field(8000, ge=1, le=65535, description="ASSISTANT_CHROMA_PORT")
    chroma_ssl: bool = Field(False, description="ASSISTANT_CHROMA_SSL: talk HTTPS to the server")
    chroma_token: SecretStr | None = Field(None, description="ASSISTANT_CHROMA_TOKEN: auth token")
    chroma_auth_header: str = Field(
        "Authorization",
        description="ASSISTANT_CHROMA_AUTH_HEADER: Authorization (Bearer) or X-Chroma-Token",
    )

    llm: Literal["auto", "openai", "extractive"] = Field(
        "auto", description="ASSISTANT_LLM: auto, openai or extractive"
    )
    llm_model: str = Field("gpt-4o-mini", description="ASSISTANT_LLM_MODEL: chat model name")
    llm_timeout: float = Field(60.0, gt=0, description="ASSISTANT_LLM_TIMEOUT: seconds per request")
    llm_retries: int = Field(2, ge=0, le=10, description="ASSISTANT_LLM_RETRIES")
    llm_temperature: float = Field(0.0, ge=0, le=2, description="ASSISTANT_LLM_TEMPERATURE")
    llm_max_tokens: int = Field(
        512, ge=16, le=32768, description="ASSISTANT_LLM_MAX_TOKENS: the longest answer, in tokens"
    )
    openai_api_key: SecretStr | None = Field(
        None, validation_alias=AliasChoices("OPENAI_API_KEY", "ASSISTANT_OPENAI_API_KEY")
    )
    openai_base_url: str | None = Field(
        None, validation_alias=AliasChoices("OPENAI_BASE_URL", "ASSISTANT_OPENAI_BASE_URL")
    )

    top_k: int = Field(5, ge=1, le=50, description="ASSISTANT_TOP_K: sources per answer")
    hybrid: bool = Field(
        True, description="ASSISTANT_HYBRID: fuse BM25 keyword search with dense search"
    )
    dense_weight: float = Field(
        1.0, ge=0, le=10, description="ASSISTANT_DENSE_WEIGHT: weight of dense ranks in fusion"
    )
    keyword_weight: float = Field(
        1.0, ge=0, le=10, description="ASSISTANT_KEYWORD_WEIGHT: weight of BM25 ranks in fusion"
    )
    date_weight: float = Field(
        1.0,
        ge=0,
        le=10,
        description="ASSISTANT_DATE_WEIGHT: preference for articles in the time a question names",
    )
    reranker: str | None = Field(
        None,
        description="ASSISTANT_RERANKER: cross-encoder model name or folder (unset: no re-ranking)",
    )
    # Gradio's own variables (as on Hugging Face Spaces) are read too; ASSISTANT_* win.
    host: str = Field(
        "127.0.0.1",
        validation_alias=AliasChoices("ASSISTANT_HOST", "GRADIO_SERVER_NAME"),
        description="ASSISTANT_HOST (or GRADIO_SERVER_NAME): address the web UI binds to",
    )
    port: int = Field(
        7860,
        ge=0,
        le=65535,
        validation_alias=AliasChoices("ASSISTANT_PORT", "GRADIO_SERVER_PORT"),
        description="ASSISTANT_PORT (or GRADIO_SERVER_PORT): port of the web UI",
    )
    api_keys: SecretStr | None = Field(
        None,
        description="ASSISTANT_API_KEYS: comma-separated Bearer tokens for the server's "
        "OpenAI-compatible API (/v1) and MCP endpoint (/mcp); required when it listens on "
        "a non-loopback address",
    )
    auth: SecretStr | None = Field(
        None,
        description="ASSISTANT_AUTH: user:password pairs, comma-separated; the web UI and its "
        "API then require a login",
    )
    auth_file: Path | None = Field(
        None,
        description="ASSISTANT_AUTH_FILE: a file of user:password lines (blank lines and "
        "# comments ignored); the web UI and its API then require a login",
    )

    @field_validator(
        "chroma_host",
        "openai_base_url",
        "reranker",
        "auth",
        "auth_file",
        "api_keys",
        mode="before",
    )
    @classmethod
    def _blank_is_unset(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @property
    def backend(self) -> Literal["openai", "extractive"]:
        """The answering backend `llm` resolves to (`auto` means openai when one is configured)."""
        if self.llm == "auto":
            return "openai" if (self.openai_api_key or self.openai_base_url) else "extractive"
        return self.llm

    @property
    def chroma_headers(self) -> dict[str, str]:
        """HTTP headers for a Chroma server (the auth token, when set)."""
        if not self.chroma_token:
            return {}
        token = self.chroma_token.get_secret_value()
        if self.chroma_auth_header.lower() == "authorization":
            return {"Authorization": f"Bearer {token}"}
        return {self.chroma_auth_header: token}

    def keys(self) -> list[str]:
        """The API keys of ASSISTANT_API_KEYS (empty when unset). ConfigError for a key
        with spaces inside, which no Authorization header can carry."""
        if self.api_keys is None:
            return []
        keys = [k.strip() for k in self.api_keys.get_secret_value().split(",") if k.strip()]
        for i, key in enumerate(keys, start=1):
            if any(ch.isspace() for ch in key):
                raise ConfigError(
                    f"ASSISTANT_API_KEYS: key {i} contains a space; separate keys with commas "
                    "and use keys without spaces"
                )
        if not keys:
            raise ConfigError(
                "ASSISTANT_API_KEYS has no key; write e.g. ASSISTANT_API_KEYS=key1,key2 or unset it"
            )
        return keys

    def logins(self) -> list[tuple[str, str]]:
        """The (user, password) pairs of ASSISTANT_AUTH and ASSISTANT_AUTH_FILE; empty when
        neither is set. ConfigError for a malformed pair or an unreadable file; messages
        name the variable and the entry's position, never a password."""
        pairs: list[tuple[str, str]] = []
        if self.auth is not None:
            raw = self.auth.get_secret_value().split(",")
            entries = [(f"entry {i}", e) for i, e in enumerate(raw, start=1)]
            found = _parse_logins("ASSISTANT_AUTH", entries, comments=False)
            if not found:
                raise ConfigError(
                    "ASSISTANT_AUTH has no user:password pair; write e.g. "
                    "ASSISTANT_AUTH=alice:pw1,bob:pw2 or unset it"
                )
            pairs += found
        if self.auth_file is not None:
            var = f"ASSISTANT_AUTH_FILE={self.auth_file}"
            try:
                text = self.auth_file.read_text(encoding="utf-8-sig")
            except FileNotFoundError as e:
                raise ConfigError(
                    f"{var}: no such file; point it at a file with one user:password per line"
                ) from e
            except (OSError, UnicodeDecodeError) as e:
                reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
                raise ConfigError(
                    f"{var}: cannot read it ({reason}); make it a UTF-8 text file the app can read"
                ) from e
            lines = [(f"line {i}", line) for i, line in enumerate(text.splitlines(), start=1)]
            found = _parse_logins(var, lines, comments=True)
            if not found:
                raise ConfigError(
                    f"{var}: the file has no user:password line; add one or unset the variable"
                )
            pairs += found
        users: set[str] = set()
        for user, _ in pairs:
            if user in users:
                raise ConfigError(
                    f"the user {user!r} is given twice in ASSISTANT_AUTH/ASSISTANT_AUTH_FILE; "
                    "keep one password per user"
                )
            users.add(user)
        return pairs


def _parse_logins(
    var: str, entries: list[tuple[str, str]], *, comments: bool
) -> list[tuple[str, str]]:
    """(user, password) pairs from ("line 3", "user:password") entries, skipping blank ones
    (and "#" comment lines when `comments`). The first ':' splits, so a password may contain
    ':'; spaces around the user name and the password are ignored."""
    pairs = []
    for where, entry in entries:
        entry = entry.strip()
        if not entry or (comments and entry.startswith("#")):
            continue
        user, colon, password = entry.partition(":")
        user, password = user.strip(), password.strip()
        if not colon:
            raise ConfigError(
                f"{var}: {where} is not user:password (no ':'); write each login as user:password"
            )
        if not user:
            raise ConfigError(f"{var}: {where} has an empty user name; write user:password")
        if not password:
            raise ConfigError(
                f"{var}: {where} (user {user!r}) has an empty password; give every user a password"
            )
        pairs.append((user, password))
    return pairs


def _gradio_name(name: str) -> str:
    """The variable a host or port came from: Gradio's when the assistant's own is unset."""
    gradio = {"ASSISTANT_HOST": "GRADIO_SERVER_NAME", "ASSISTANT_PORT": "GRADIO_SERVER_PORT"}
    if name in gradio and name not in os.environ and gradio[name] in os.environ:
        return gradio[name]
    return name


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment plus `overrides`; a bad value is a ConfigError that
    names the variable and says what it accepts."""
    try:
        settings = Settings(**overrides)
    except ValidationError as e:
        problems = []
        for err in e.errors():
            field = str(err["loc"][0]) if err["loc"] else "?"
            name = field.upper() if field.isupper() else f"ASSISTANT_{field.upper()}"
            name = _gradio_name(name)
            problems.append(f"{name}={err.get('input')!r}: {err['msg']}")
        raise ConfigError("bad setting: " + "; ".join(problems)) from e
    if settings.llm == "openai" and not (settings.openai_api_key or settings.openai_base_url):
        raise ConfigError(
            "ASSISTANT_LLM=openai needs OPENAI_API_KEY (or OPENAI_BASE_URL for a local "
            "OpenAI-compatible server); or set ASSISTANT_LLM=extractive to answer offline"
        )
    settings.logins()  # a malformed login or an unreadable file fails now, not at launch
    settings.keys()
    return settings
