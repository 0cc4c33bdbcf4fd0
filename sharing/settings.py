"""The hub's settings: one typed object read from ``SHARING_*`` environment variables."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_POLICY_DIR = Path(__file__).resolve().parent.parent / "policies"


class Settings(BaseSettings):
    """Everything an operator may configure. Built once and handed to ``create_app``."""

    model_config = SettingsConfigDict(env_prefix="SHARING_", extra="ignore")

    database_url: str = Field(
        default="sqlite+aiosqlite:///var/sharing.db",
        description="SQLAlchemy URL: sqlite+aiosqlite:///path or postgresql+asyncpg://...",
    )
    issuer: str = Field(
        default="http://127.0.0.1:8000",
        description="This hub's issuer identifier (RFC 8414); also the audience of API tokens.",
    )
    gateway_audience: str = Field(
        default="urn:sharing:gateway:default",
        description="Audience of access tokens: the media gateway that enforces them.",
    )
    secret_key: SecretStr = Field(
        default=SecretStr("dev-only-change-me-0123456789abcdef"),
        description="Encrypts signing keys at rest. Set a long random value in production.",
    )
    policy_dir: Path = Field(default=DEFAULT_POLICY_DIR)
    api_token_lifetime_seconds: int = Field(default=900, ge=30, le=86_400)
    access_token_max_lifetime_seconds: int = Field(default=3_600, ge=10, le=86_400)
    key_rotation_overlap_seconds: int = Field(
        default=86_400,
        ge=0,
        description="How long a retired signing key stays in the JWKS so its tokens still verify.",
    )
    key_refresh_seconds: float = Field(
        default=30.0,
        gt=0,
        description="How often each node re-reads the signing keys, to follow a rotation.",
    )
    approval_timeout_seconds: int = Field(
        default=14_400,
        ge=60,
        le=604_800,
        description="How long a request waits for approvals before it expires.",
    )
    emergency_review_hours: int = Field(
        default=24, ge=1, le=168, description="Time the supervisor has to ratify emergency access."
    )
    emergency_unratified_limit: int = Field(
        default=3,
        ge=1,
        description="Unratified emergency accesses within 30 days that suspend a party's "
        "emergency right under an agreement.",
    )
    webhook_max_attempts: int = Field(default=8, ge=1, le=30)
    webhook_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    sweep_interval_seconds: float = Field(
        default=5.0,
        gt=0,
        description="How often background sweeps run (expiries, overdue reviews, webhooks).",
    )
    audit_origin: str | None = Field(
        default=None,
        pattern=r"^[^\s+]{1,200}$",
        description="The audit log's C2SP origin line (a schema-less URL); by default the "
        "issuer without its scheme, followed by /audit-log.",
    )
    checkpoint_interval_seconds: float = Field(
        default=60.0,
        gt=0,
        description="How often the hub signs a checkpoint of its audit log, if it grew.",
    )
    federation_sync_seconds: float = Field(
        default=30.0, gt=0, description="How often each peer's camera catalog is synced."
    )
    federation_timeout_seconds: float = Field(
        default=5.0,
        gt=0,
        le=60,
        description="Timeout of one call to a peer hub; connecting gets a fifth of it.",
    )
    signing_algorithm: str = Field(default="ES256", pattern="^(ES256|RS256)$")
    log_level: str = Field(default="INFO")

    @property
    def is_sqlite(self) -> bool:
        """Whether the configured database is the embedded SQLite backend."""
        return self.database_url.startswith("sqlite")

    @property
    def log_origin(self) -> str:
        """The origin line of this hub's audit log checkpoints."""
        if self.audit_origin:
            return self.audit_origin
        return self.issuer.split("://", 1)[-1].rstrip("/") + "/audit-log"

    @property
    def token_endpoint(self) -> str:
        """The OAuth token endpoint's absolute URL, an accepted assertion audience."""
        return f"{self.issuer}/oauth/token"
