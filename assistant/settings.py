"""The one settings object, read from the environment (and .env) once, at the edge."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from index.embeddings import DEFAULT_EMBEDDING_MODEL
from index.errors import ConfigError

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
    max_file_mb: float = Field(
        50.0, gt=0, description="ASSISTANT_MAX_FILE_MB: larger files are refused"
    )
    ingest_batch: int = Field(
        1024, ge=1, le=100_000, description="ASSISTANT_INGEST_BATCH: chunks embedded per write"
    )
    lock_wait: float = Field(
        120.0, ge=0, description="ASSISTANT_LOCK_WAIT: seconds to wait for another ingest"
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
        0.5,
        ge=0,
        le=10,
        description="ASSISTANT_DATE_WEIGHT: preference for articles in the time a question names",
    )
    reranker: str | None = Field(
        None,
        description="ASSISTANT_RERANKER: cross-encoder model name or folder (unset: no re-ranking)",
    )
    host: str = Field("127.0.0.1", description="ASSISTANT_HOST: address the web UI binds to")
    port: int = Field(7860, ge=0, le=65535, description="ASSISTANT_PORT: port of the web UI")

    @field_validator("chroma_host", "openai_base_url", "reranker", mode="before")
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
            problems.append(f"{name}={err.get('input')!r}: {err['msg']}")
        raise ConfigError("bad setting: " + "; ".join(problems)) from e
    if settings.llm == "openai" and not (settings.openai_api_key or settings.openai_base_url):
        raise ConfigError(
            "ASSISTANT_LLM=openai needs OPENAI_API_KEY (or OPENAI_BASE_URL for a local "
            "OpenAI-compatible server); or set ASSISTANT_LLM=extractive to answer offline"
        )
    return settings
