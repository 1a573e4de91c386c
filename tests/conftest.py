"""Shared fixtures: a clean database (SQLite by default, PostgreSQL when ALERTER_TEST_DATABASE_URL
names one), settings pointing at it, and a local web server."""

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import Session, SQLModel

import alerter.branding
import alerter.config
import alerter.db
import subscriptions.models  # noqa: F401  (its tables, for emptying between tests)
from alerter.config import Settings
from alerter.db import create_db_engine, migrate
from tests.support.fake_web import FakeWeb


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = os.environ.get("ALERTER_TEST_DATABASE_URL")
    if url:
        return url
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'alerter-test.db'}"


@pytest.fixture(scope="session")
def migrated_engine(database_url: str) -> Iterator[sa.Engine]:
    engine = create_db_engine(database_url)
    migrate(engine)
    yield engine
    engine.dispose()


@pytest.fixture(autouse=True)
def default_branding(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts with no association settings read (a process keeps the last read)."""
    monkeypatch.setattr(alerter.branding, "_current", None)


@pytest.fixture
def engine(migrated_engine: sa.Engine) -> sa.Engine:
    """The test database, emptied before each test."""
    with migrated_engine.begin() as connection:
        for table in reversed(SQLModel.metadata.sorted_tables):
            connection.execute(table.delete())
    return migrated_engine


@pytest.fixture
def session(engine: sa.Engine) -> Iterator[Session]:
    with Session(engine, expire_on_commit=False) as session:
        yield session


@pytest.fixture
def sources_file(tmp_path: Path) -> Path:
    path = tmp_path / "sources.toml"
    path.write_text("sources = []\n", encoding="utf-8")
    return path


@pytest.fixture
def settings(database_url: str, sources_file: Path) -> Settings:
    return Settings(
        database_url=database_url,
        sources=sources_file,
        fetch_deadline_seconds=3,
        contact_url="https://alerter.example/contact",
    )


@pytest.fixture
def env_settings(
    settings: Settings, engine: sa.Engine, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[Settings]:
    """The same settings exported as ALERTER_* variables, for code that reads the environment."""
    for name, value in settings.model_dump().items():
        if value is not None:
            monkeypatch.setenv(f"ALERTER_{name.upper()}", str(value))
    monkeypatch.chdir(tmp_path)
    alerter.config.get_settings.cache_clear()
    alerter.db.get_engine.cache_clear()
    yield settings
    alerter.config.get_settings.cache_clear()
    alerter.db.get_engine.cache_clear()


@pytest.fixture
def web() -> Iterator[FakeWeb]:
    server = FakeWeb().start()
    yield server
    server.stop()
