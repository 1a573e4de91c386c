"""Settings, read once from ALERTER_* environment variables (see README.md)."""

import contextlib
import os
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PACKAGE_DIR = Path(__file__).resolve().parent
DEFAULT_SOURCES_FILE = PACKAGE_DIR / "default_sources.toml"
DEFAULT_TOPICS_FILE = PACKAGE_DIR / "topics" / "default_topics.toml"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ALERTER_", extra="ignore")

    database_url: str = "sqlite:///alerter.db"
    sources: Path = Field(
        default=DEFAULT_SOURCES_FILE, description="TOML file declaring the sources to poll"
    )
    topics: Path = Field(
        default=DEFAULT_TOPICS_FILE, description="TOML file declaring the topic taxonomy"
    )
    contact_url: str = Field(
        default="https://github.com/alerter/alerter",
        description="Where a site owner can reach us; sent in the User-Agent",
    )
    fetch_deadline_seconds: float = Field(
        default=20.0, gt=0, description="Total time one fetch may take, body included"
    )
    fetch_max_bytes: int = Field(
        default=5_000_000, gt=0, description="Largest response body accepted, after decompression"
    )
    fetch_per_host: int = Field(
        default=4, gt=0, description="Concurrent fetches to one host during a poll cycle"
    )
    base_url: str = Field(
        default="http://127.0.0.1:8000",
        description="Public address of the web app; links in emails start with it",
    )
    secret_key: str | None = Field(
        default=None,
        description="Signs members' links and staff sessions; unset, one is made and kept in "
        "secret_key_file",
    )
    secret_key_file: Path = Field(
        default=Path("alerter.secret"), description="Where the generated secret key is kept"
    )
    trusted_proxies: str = Field(
        default="",
        description="Reverse proxies (addresses or networks, comma-separated) whose "
        "X-Forwarded-For names the client; unset, the connecting address is the client",
    )
    mail_from: str = Field(
        default="alerts@alerter.example", description="The From address of every email"
    )
    unsubscribe_mailto: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+$",
        description="An address that takes unsubscribe requests by email, offered in "
        "List-Unsubscribe beside the one-click link; unset, the link alone",
    )
    outbox_dir: Path = Field(
        default=Path("outbox"), description="Where the outbox mail backend writes .eml files"
    )
    mail_backend: Literal["outbox", "sendgrid", "smtp"] = Field(
        default="outbox", description="Where email goes: .eml files, SendGrid, or an SMTP server"
    )
    sendgrid_api_key: str | None = Field(
        default=None,
        validation_alias=AliasChoices("SENDGRID_API_KEY", "ALERTER_SENDGRID_API_KEY"),
        description="SendGrid API key (Mail Send and Scheduled Sends permissions)",
    )
    sendgrid_base_url: str = Field(
        default="https://api.sendgrid.com",
        description="SendGrid's API; https://api.eu.sendgrid.com for the EU region",
    )
    sendgrid_webhook_public_key: str | None = Field(
        default=None,
        description="The Event Webhook's verification key (base64, from SendGrid's settings); "
        "the webhook refuses every request until it is set",
    )
    smtp_url: str | None = Field(
        default=None, description="smtp://, smtps:// or smtp+starttls://[user:password@]host[:port]"
    )
    staff_email: str | None = Field(
        default=None,
        description="Where alerts about failing sources and deliveries go (comma-separated); "
        "unset, they are only logged",
    )
    log_format: Literal["text", "json"] = Field(
        default="text", description="Logs as text lines, or as one JSON object per line"
    )
    send_empty_digests: bool = Field(
        default=False,
        description="Send weekly and daily digests with nothing new as a short 'nothing new' "
        "email, instead of no email",
    )
    repeat_bulletin_items_in_digests: bool = Field(
        default=False,
        description="Include items a member already received in a bulletin in their next digest",
    )
    weekly_digest_cron: str = Field(
        default="0 7 * * mon", description="When the weekly digest goes (crontab, London time)"
    )
    daily_digest_cron: str = Field(
        default="0 7 * * *", description="When the daily digest goes (crontab, London time)"
    )
    deadline_alerts_cron: str = Field(
        default="0 8 * * *",
        description="When deadline reminders and outcome alerts are planned and sent "
        "(crontab, London time)",
    )
    delivery_lease_seconds: float = Field(
        default=60,
        gt=0,
        description="How long a sender holds the deliveries it claimed; after that, another "
        "sender takes over those of a sender that died",
    )
    cache_dir: Path = Field(
        default_factory=lambda: (
            Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "alerter"
        ),
        description="Where trained topic models are kept, so that each is trained once per "
        "machine rather than in every process",
    )
    parse_workers: int = Field(
        default_factory=lambda: os.cpu_count() or 1,
        ge=0,
        description="Processes that parse fetched documents; 0 parses in the poller itself",
    )


@lru_cache
def get_settings() -> Settings:
    return Settings()


def secret_key(settings: Settings) -> str:
    """ALERTER_SECRET_KEY, or a key generated once and kept (readable by this user only) in
    ALERTER_SECRET_KEY_FILE, so that links in sent emails keep working after a restart."""
    if settings.secret_key:
        return settings.secret_key
    path = settings.secret_key_file.resolve()
    if path in _kept_keys:  # read once: a digest run signs two links per member
        return _kept_keys[path]
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        draft = path.with_name(f".{path.name}.{os.getpid()}")
        descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(secrets.token_urlsafe(48))
        # Linking is atomic: of two processes starting together, one key wins and both read it.
        with contextlib.suppress(FileExistsError):
            os.link(draft, path)
        draft.unlink()
    _kept_keys[path] = path.read_text().strip()
    return _kept_keys[path]


_kept_keys: dict[Path, str] = {}
