"""One settings object for the whole process (prefix TERTULIA_, plus the seeds' own variable names)."""

from __future__ import annotations

import secrets
from functools import lru_cache
from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def _seed_var(name: str) -> AliasChoices:
    # The seeds name these variables without our prefix; accept both spellings.
    return AliasChoices(name, f"TERTULIA_{name}")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TERTULIA_", extra="ignore", populate_by_name=True)

    data_dir: Path = Path("./var")
    database_url: str = ""
    redis_url: str | None = None
    secret_key: str | None = None
    base_url: str = "http://127.0.0.1:8000"
    log_level: str = "info"
    # Run background jobs inside `serve` (the embedded default); a deployment with dedicated
    # `tertulia worker` processes turns this off.
    inline_worker: bool = True
    db_pool_size: int = 10
    # Tasks that store inbound messages, each a batch at a time (conversations/inbound.py). Unset:
    # one on SQLite (it has one writer anyway), two on PostgreSQL (a batch waiting on a lock does
    # not hold up the next).
    inbound_writers: int | None = Field(default=None, ge=1, le=64)
    # Login attempts allowed per client address and per email (the `limits` notation).
    login_limit_per_address: str = "30/minute"
    login_limit_per_email: str = "10/minute"
    # Prefix of this installation's Redis channels (lets several installations, or test runs,
    # share one Redis without hearing each other's events).
    redis_prefix: str = "tertulia"
    # Tenant events older than this are deleted; a socket resuming from before them is told to resync.
    event_retention_days: float = Field(default=7.0, gt=0)
    # MCP servers over stdio run a command on this machine: only when the operator allows it.
    allow_stdio_mcp: bool = False
    # Where files are kept (kit/storage.py): unset, under <data dir>/files; `s3://bucket/prefix`,
    # an S3-compatible bucket shared by every server. Endpoint, region and keys are the bucket's;
    # without keys the usual AWS sources (AWS_* variables, the instance's role) are used.
    storage_url: str = ""
    storage_endpoint: str | None = None
    storage_region: str | None = None
    storage_access_key_id: str | None = None
    storage_secret_access_key: SecretStr | None = None
    # URLs a tenant sets (an assistant's base_url, MCP servers) may not reach loopback, private,
    # link-local or metadata addresses (kit/egress.py) except these, comma-separated: host names,
    # addresses or networks, each optionally with a port (ollama.lan, 10.0.0.0/8, 127.0.0.1:11434).
    egress_allow: str = ""
    # false: tenant-chosen URLs reach only egress_allow, never a public address (test runs).
    egress_public: bool = True
    # The providers' APIs (operator-configured, so trusted by the egress fence): tests, the sandbox
    # and an operator's proxy stand in for them here. Meta's Graph API version is pinned.
    meta_graph_url: str = "https://graph.facebook.com/v23.0"
    ycloud_api_url: str = "https://api.ycloud.com/v2"
    # Seconds between two messages to one recipient on one channel (seed 001: 4 s; WhatsApp's pair
    # limit is about one every 6 s with short bursts), and sends per second on one channel.
    delivery_spacing: float = Field(default=4.0, ge=0, le=600)
    delivery_channel_rate: float = Field(default=20.0, gt=0, le=10_000)
    # A send that failed for a passing reason (rate limit, 5xx, network) is tried again after about
    # this many seconds, doubling each time (with jitter, at most 5 minutes), up to this many tries.
    delivery_retry_seconds: float = Field(default=2.0, gt=0, le=600)
    delivery_max_attempts: int = Field(default=8, ge=1, le=100)

    # The web widget's visitors: messages per visitor, and messages and sessions per address (an
    # office or a carrier's NAT may put many visitors behind one), in the `limits` notation.
    widget_rate_per_visitor: str = Field(default="20/minute", pattern=r"^\d+/(second|minute|hour)$")
    widget_rate_per_address: str = Field(default="120/minute", pattern=r"^\d+/(second|minute|hour)$")

    web_chat_allowed_origins: str = Field(default="", validation_alias=_seed_var("WEB_CHAT_ALLOWED_ORIGINS"))
    chat_upload_max_bytes: int = Field(
        default=15 * 1024 * 1024, validation_alias=_seed_var("CHAT_UPLOAD_MAX_BYTES")
    )
    # The seed's folders for chat uploads and generated reports name folders of the file store
    # (kit/storage.py), which decides where files live (TERTULIA_DATA_DIR or TERTULIA_STORAGE_URL).
    uploads_dir: str = Field(default="uploads", validation_alias=_seed_var("UPLOADS_DIR"))
    reports_dir: str = Field(default="reports", validation_alias=_seed_var("REPORTS_DIR"))
    # Map tiles for the reports' maps ({z}/{x}/{y} template, e.g. an OpenStreetMap tile server);
    # unset, maps draw their points on a plain background and nothing is fetched from outside.
    map_tiles_url: str = ""
    map_tiles_attribution: str = ""
    testing: bool = Field(default=False, validation_alias=_seed_var("TESTING"))

    @field_validator("redis_url", "secret_key", "storage_endpoint", "storage_region", "storage_access_key_id",
                     "storage_secret_access_key", mode="before")
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("uploads_dir", "reports_dir")
    @classmethod
    def _check_store_folder(cls, value: str) -> str:
        folder = value.strip().strip("/") if not value.startswith("/") else value
        if not folder or folder.startswith("/") or any(p in ("", ".", "..") for p in folder.split("/")):
            raise ValueError("UPLOADS_DIR and REPORTS_DIR name folders inside the file store (e.g. `uploads`), "
                             "not paths on this machine: where files live is TERTULIA_DATA_DIR or "
                             "TERTULIA_STORAGE_URL")
        return folder

    @field_validator("storage_url")
    @classmethod
    def _check_storage_url(cls, value: str) -> str:
        if value and (not value.startswith("s3://") or not value.removeprefix("s3://").split("/")[0]):
            raise ValueError("TERTULIA_STORAGE_URL names a bucket: s3://bucket or s3://bucket/prefix")
        return value

    @model_validator(mode="after")
    def _check_storage_keys(self) -> Settings:
        if (self.storage_access_key_id is None) != (self.storage_secret_access_key is None):
            raise ValueError("set both TERTULIA_STORAGE_ACCESS_KEY_ID and TERTULIA_STORAGE_SECRET_ACCESS_KEY, "
                             "or neither")
        return self

    @field_validator("egress_allow")
    @classmethod
    def _check_egress_allow(cls, value: str) -> str:
        from tertulia.kit.egress import EgressPolicy

        EgressPolicy.parse(value)  # a mistyped entry stops start-up with its reason
        return value

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'tertulia.db').resolve()}"

    @property
    def allowed_origins(self) -> list[str]:
        return [o.strip().rstrip("/") for o in self.web_chat_allowed_origins.split(",") if o.strip()]

    def resolved_secret_key(self) -> str:
        """The configured secret, or one generated once and kept under the data directory."""
        if self.secret_key:
            return self.secret_key
        path = self.data_dir / "secret_key"
        if path.exists():
            return path.read_text().strip()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        # Exclusive create: two processes starting together must agree on one key.
        try:
            with path.open("x") as fh:
                fh.write(key)
            path.chmod(0o600)
        except FileExistsError:
            return path.read_text().strip()
        return key


@lru_cache
def get_settings() -> Settings:
    return Settings()
