"""Settings, read once from ALERTER_* environment variables (see README.md)."""

import os
from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PACKAGE_DIR = Path(__file__).resolve().parent
DEFAULT_SOURCES_FILE = PACKAGE_DIR / "default_sources.toml"
DEFAULT_TOPICS_FILE = PACKAGE_DIR / "default_topics.toml"


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
    parse_workers: int = Field(
        default_factory=lambda: os.cpu_count() or 1,
        ge=0,
        description="Processes that parse fetched documents; 0 parses in the poller itself",
    )


@lru_cache
def get_settings() -> Settings:
    return Settings()
