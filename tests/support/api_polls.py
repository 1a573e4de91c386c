"""Helpers for the tests of API source kinds: declaring one source, polling it at a given time,
and reading back what was stored."""

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from alerter.config import Settings
from alerter.ingest.api_client import HostPacer
from alerter.ingest.poll import SourceReport, poll_sources
from alerter.ingest.sources.catalog import sync_source_file
from alerter.models import Item, Source


def toml_value(value: Any) -> str:
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + " }"
    return json.dumps(value)  # strings, numbers, booleans and lists of them read the same


def declare(path: Path, name: str, kind: str, url: str, **options: Any) -> None:
    """Write a sources file holding this one source."""
    lines = ["[[sources]]", f"name = {toml_value(name)}", f"kind = {toml_value(kind)}"]
    lines += [f"url = {toml_value(url)}", f"publisher = {toml_value(name)}"]
    lines += [f"{key} = {toml_value(value)}" for key, value in options.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@dataclass
class RecordingSleep:
    """A pacer's sleep that returns at once and remembers each delay asked for."""

    delays: list[float]

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def poll_at(engine: sa.Engine, settings: Settings, now: datetime) -> SourceReport:
    """Sync the sources file and poll its one source as if it were `now`."""
    with Session(engine) as session:
        sync_source_file(session, settings.sources)
        session.commit()
    [report] = poll_sources(
        engine,
        settings.model_copy(update={"parse_workers": 0}),
        clock=lambda: now,
        pacer=HostPacer(sleep=RecordingSleep([])),
    )
    return report


def stored(engine: sa.Engine) -> dict[str, Item]:
    """Every stored item by external id (or URL, for one without)."""
    with Session(engine) as session:
        items = session.exec(select(Item).order_by(col(Item.id))).all()
    return {item.external_id or item.url: item for item in items}


def source_row(engine: sa.Engine) -> Source:
    with Session(engine) as session:
        return session.exec(select(Source)).one()
