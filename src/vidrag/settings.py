"""Typed settings. Nothing else in vidrag reads the environment.

Names are a contract with scripts and operators: ``VIDRAG_*`` plus the seed's ``HOST`` and ``PORT``.
"""

from __future__ import annotations

import secrets
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

_PLACEHOLDER_SECRETS = {"", "changeme", "change-me", "change_me", "changethis", "secret", "secret-key",
                        "your-secret-key", "dev", "development", "test", "password", "please-change-me"}
MIN_SECRET_LENGTH = 32


class Environment(StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


class Settings(BaseSettings):
    """Every knob of the service, grouped by concern."""

    model_config = SettingsConfigDict(env_prefix="VIDRAG_", env_file=".env", extra="ignore")

    # --- service -----------------------------------------------------------------------------------
    env: Environment = Environment.PRODUCTION
    host: str = Field("0.0.0.0", validation_alias=AliasChoices("HOST", "VIDRAG_HOST"))
    port: int = Field(8000, ge=0, le=65535, validation_alias=AliasChoices("PORT", "VIDRAG_PORT"))
    log_level: str = "info"
    # --- observability -------------------------------------------------------------------------------
    log_format: Literal["text", "json"] = "text"  # json: one object per line, with request/task IDs
    metrics_require_api_key: bool = False  # /metrics open (keep it off the public proxy) or behind VIDRAG_API_KEYS
    metrics_port: int = Field(0, ge=0, le=65535)  # `vidrag worker`: serve /metrics on HOST:this port; 0 = off

    # --- storage -----------------------------------------------------------------------------------
    data_dir: Path = Path("data")
    database_url: str | None = None  # default: SQLite file inside data_dir; postgresql+psycopg://... scales out
    database_pool_size: int = Field(10, ge=1, le=500)  # PostgreSQL connections kept per process
    database_max_overflow: int = Field(10, ge=0, le=500)  # extra connections opened under load
    database_pool_timeout_seconds: float = Field(10.0, gt=0)  # wait for a free connection, then 503 database_busy
    # pgvector HNSW (PostgreSQL): build parameters apply when an index is made; ef_search per query
    hnsw_m: int = Field(16, ge=2, le=100)
    hnsw_ef_construction: int = Field(64, ge=4, le=1000)
    hnsw_ef_search: int = Field(100, ge=1, le=1000)
    # Redis: switches jobs to Celery workers, progress events to pub/sub, caches and rate limits to Redis
    redis_url: str | None = None
    job_time_limit_seconds: float = Field(6 * 3600, ge=5)  # one job (a download, a document) at most; then it fails
    # PostgreSQL backups: the directory of pg_dump, pg_restore and psql (at least the server's major version);
    # default: PATH, then /usr/lib/postgresql/<version>/bin
    pg_bin_dir: Path | None = None

    # --- security ----------------------------------------------------------------------------------
    secret_key: SecretStr | None = None  # unset: generated once and kept in data_dir/.secret_key
    api_keys: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    allow_private_networks: bool = False

    # --- downloads ---------------------------------------------------------------------------------
    download_concurrency: int = Field(2, ge=1, le=64)
    max_attempts: int = Field(3, ge=1, le=20)
    task_lease_seconds: float = Field(60.0, ge=2)  # a running task silent this long is taken over
    mp3_bitrate_kbps: int = Field(192, ge=32, le=320)
    opus_bitrate_kbps: int = Field(96, ge=16, le=256)
    max_download_mb: int = Field(4096, ge=1)
    max_upload_mb: int = Field(2048, ge=1)
    socket_timeout_seconds: float = Field(30.0, gt=0)
    ffmpeg_path: str | None = None  # default: ffmpeg on PATH, else the imageio-ffmpeg wheel's binary

    # --- speech to text ------------------------------------------------------------------------------
    asr_model: str | None = None  # a local CTranslate2 model dir or a model name; default: the bundled tiny.en
    asr_device: str = "cpu"
    asr_compute_type: str = "int8"
    asr_threads: int = Field(2, ge=1, le=64)
    asr_beam_size: int = Field(1, ge=1, le=10)  # 1 = greedy: ~1.7x faster than 5 at nearly the same accuracy
    asr_vad: bool = True
    asr_batch_size: int = Field(0, ge=0, le=64)  # >0 uses faster-whisper's batched pipeline
    caption_languages: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["en"])

    # --- embeddings and retrieval ----------------------------------------------------------------------
    embedding_backend: str = Field("local", pattern="^(local|openai)$")
    embedding_model: str | None = None  # local: a model dir (default: the bundled one); openai: the model name
    embedding_base_url: str | None = None  # an OpenAI-compatible /v1 base URL, for embedding_backend=openai
    embedding_api_key: SecretStr | None = None
    embedding_dimension: int | None = None
    embedding_batch_size: int = Field(32, ge=1, le=1024)
    embedding_threads: int = Field(2, ge=1, le=64)

    rerank_base_url: str | None = None  # a Jina/Cohere-style /v1/rerank endpoint (vLLM, Xinference, Jina, Cohere)
    rerank_model: str | None = None
    rerank_api_key: SecretStr | None = None

    retrieval_cache_seconds: float = Field(300.0, ge=0)  # identical queries on an unchanged index; 0 disables

    # --- rate limits (per client: API key, else address; shared by every replica when scaled out) -----------
    rate_limit_per_minute: int = Field(0, ge=0)  # every guarded API request; 0 = no limit
    rate_limit_submit_per_minute: int = Field(0, ge=0)  # POSTs that start work (tasks, uploads, documents, chat)

    # --- answers ----------------------------------------------------------------------------------------
    llm_base_url: str | None = None  # any OpenAI-compatible /v1 (Ollama, vLLM, OpenAI, DeepSeek, Qwen)
    llm_api_key: SecretStr | None = None
    llm_model: str | None = None
    llm_timeout_seconds: float = Field(60.0, gt=0)
    # A question is "supported" when its best chunk's cosine similarity reaches this (tuned for the bundled
    # MiniLM: off-topic questions scored 0.00-0.21, answerable ones 0.33-0.76; re-measure for other embedders).
    answer_min_similarity: float = Field(0.25, ge=0, le=1)

    # --- retention and disk ------------------------------------------------------------------------
    retention_max_age_hours: float = Field(24.0, gt=0)
    retention_max_total_mb: float = Field(1000.0, gt=0)
    retention_keep_newest: int = Field(10, ge=0)
    cleanup_interval_minutes: float = Field(60.0, ge=0)  # 0 disables the periodic cleanup
    min_free_disk_mb: float = Field(500.0, ge=0)

    @field_validator("api_keys", "cors_origins", "caption_languages", mode="before")
    @classmethod
    def _split_commas(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @model_validator(mode="after")
    def _refuse_placeholder_secret(self) -> Settings:
        if self.secret_key is not None and self.env is Environment.PRODUCTION:
            raw = self.secret_key.get_secret_value()
            if raw.strip().lower() in _PLACEHOLDER_SECRETS or len(raw) < MIN_SECRET_LENGTH:
                raise ValueError(
                    f"VIDRAG_SECRET_KEY is a placeholder or shorter than {MIN_SECRET_LENGTH} characters; "
                    "set a real one (openssl rand -base64 42), unset it to have one generated, "
                    "or run in development mode (VIDRAG_ENV=development)"
                )
        return self

    @model_validator(mode="after")
    def _llm_needs_a_model(self) -> Settings:
        if self.llm_base_url and not self.llm_model:
            raise ValueError("VIDRAG_LLM_BASE_URL is set but VIDRAG_LLM_MODEL is not; set the model name, or unset "
                             "the base URL for extractive answers")
        return self

    # --- derived paths -----------------------------------------------------------------------------
    @property
    def media_dir(self) -> Path:
        return self.data_dir / "media"

    @property
    def tmp_dir(self) -> Path:
        return self.data_dir / "tmp"

    @property
    def sqlalchemy_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'vidrag.db').resolve()}"

    @property
    def scaled_out(self) -> bool:
        """Jobs go to Celery workers through Redis (and events, caches, rate limits live in Redis)."""
        return bool(self.redis_url)

    @property
    def dev_mode(self) -> bool:
        return self.env is Environment.DEVELOPMENT

    def ensure_dirs(self) -> None:
        for path in (self.data_dir, self.media_dir, self.tmp_dir):
            path.mkdir(parents=True, exist_ok=True)

    def resolved_secret_key(self) -> str:
        """The configured secret, else one generated on first start and kept (mode 600) in the data dir."""
        if self.secret_key is not None:
            return self.secret_key.get_secret_value()
        key_file = self.data_dir / ".secret_key"
        if key_file.exists():
            return key_file.read_text().strip()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(42)
        key_file.touch(mode=0o600)
        key_file.write_text(key)
        return key
