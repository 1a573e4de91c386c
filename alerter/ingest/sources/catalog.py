"""The declared sources: reading the sources file and keeping the `source` table in step with it."""

import hashlib
import json
import tomllib
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlmodel import Session, select

from alerter.ingest.sources import KINDS
from alerter.ingest.sources.base import SourceSpec
from alerter.models import Source

_COMMON_KEYS = ("name", "kind", "url", "publisher", "enabled", "poll_minutes")


class SourceFileError(ValueError):
    """The sources file cannot be used; the message names each bad entry and what is wrong."""


def load_source_file(path: Path) -> list[SourceSpec]:
    """The `[[sources]]` entries of a TOML file, each validated with its kind's own options."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise SourceFileError(f"{path}: cannot read the sources file ({error.strerror})") from None
    except UnicodeDecodeError as error:
        raise SourceFileError(
            f"{path}: not UTF-8 text (byte {error.start}); save the file as UTF-8"
        ) from None
    except tomllib.TOMLDecodeError as error:
        raise SourceFileError(f"{path}: not valid TOML ({error})") from None
    entries = data.get("sources")
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise SourceFileError(f"{path}: expected an array of tables [[sources]]")
    specs: list[SourceSpec] = []
    problems: list[str] = []
    for number, entry in enumerate(entries, start=1):
        label = f"source #{number}" + (f" ({entry['name']!r})" if "name" in entry else "")
        try:
            specs.append(parse_declaration(entry))
        except ValueError as error:
            problems.append(f"{label}: {error}")
    seen: set[str] = set()
    for spec in specs:
        if spec.name in seen:
            problems.append(f"source name {spec.name!r} is used twice; names must be unique")
        seen.add(spec.name)
    if problems:
        raise SourceFileError(f"{path}: " + "; ".join(problems))
    return specs


def parse_declaration(entry: dict[str, Any]) -> SourceSpec:
    """A SourceSpec from one flat declaration: the common keys, the rest being kind options."""
    common = {key: entry[key] for key in _COMMON_KEYS if key in entry}
    options = {key: value for key, value in entry.items() if key not in _COMMON_KEYS}
    kind = KINDS.get(str(entry.get("kind")))
    if kind is None:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {entry.get('kind')!r}")
    try:
        checked = kind.options_model.model_validate(options)
        return SourceSpec(**common, options=checked.model_dump(exclude_none=True))
    except ValidationError as error:
        raise ValueError(_describe(error)) from None


def _describe(error: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(part) for part in problem['loc']) or 'entry'}: {problem['msg']}"
        for problem in error.errors()
    )


def declaration_hash(spec: SourceSpec) -> str:
    return hashlib.sha256(
        json.dumps(spec.model_dump(mode="json"), sort_keys=True).encode()
    ).hexdigest()


def sync_sources(session: Session, specs: list[SourceSpec]) -> None:
    """Bring the `source` table in line with the declarations.

    A declaration is applied when it is new or changed since the last sync, so edits staff make
    elsewhere survive until the file's own entry changes. A source that left the file is disabled,
    not deleted: its items stay.
    """
    rows = {row.name: row for row in session.exec(select(Source))}
    declared = {spec.name for spec in specs}
    for spec in specs:
        digest = declaration_hash(spec)
        row = rows.get(spec.name)
        if row is None:
            session.add(Source(**_config_fields(spec), declared_hash=digest))
        elif row.declared_hash != digest:
            apply_spec(row, spec)
            row.declared_hash = digest
    for row in rows.values():
        if row.declared_hash is not None and row.name not in declared:
            row.enabled = False
            row.declared_hash = None
    session.flush()


def apply_spec(row: Source, spec: SourceSpec) -> None:
    """Update a source's configuration; a new address or query forgets the old one's
    validators."""
    if row.url != str(spec.url) or row.kind != spec.kind or row.options != dict(spec.options):
        row.etag = None
        row.last_modified = None
    for name, value in _config_fields(spec).items():
        setattr(row, name, value)


def _config_fields(spec: SourceSpec) -> dict[str, Any]:
    return {
        "name": spec.name,
        "kind": spec.kind,
        "url": str(spec.url),
        "publisher": spec.publisher,
        "enabled": spec.enabled,
        "poll_minutes": spec.poll_minutes,
        "options": dict(spec.options),
    }


def spec_of(row: Source) -> SourceSpec:
    return SourceSpec(
        name=row.name,
        kind=row.kind,
        url=row.url,
        publisher=row.publisher,
        enabled=row.enabled,
        poll_minutes=row.poll_minutes,
        options=row.options,
    )


def sync_source_file(session: Session, path: Path) -> None:
    """Load the sources file and sync it into the database."""
    sync_sources(session, load_source_file(path))


def source_health(source: Source) -> dict[str, Any]:
    """A source's health as shown to staff and by `alerter sources --json`."""
    return {
        "name": source.name,
        "kind": source.kind,
        "url": source.url,
        "publisher": source.publisher,
        "enabled": source.enabled,
        "poll_minutes": source.poll_minutes,
        "last_polled": _iso(source.last_polled_at),
        "last_success": _iso(source.last_success_at),
        "last_error": source.last_error,
        "warnings": list(source.last_warnings),
        "consecutive_failures": source.consecutive_failures,
        "next_poll": _iso(source.next_poll_at),
    }


def health_lines(source: Source) -> list[str]:
    """A source's health as `alerter sources` prints it."""
    health = source_health(source)
    if not source.enabled:
        state = "disabled"
    elif source.last_error:
        state = f"FAILING x{source.consecutive_failures}: {source.last_error}"
    else:
        state = "ok" if source.last_success_at else "not polled yet"
    return [
        f"{source.name} [{source.kind}] {state}",
        f"  {source.url}",
        f"  last success: {health['last_success'] or 'never'}; "
        f"next poll: {health['next_poll'] or 'now'}",
        *(f"  warning: {warning}" for warning in source.last_warnings),
    ]


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def list_sources(session: Session) -> list[Source]:
    return list(session.exec(select(Source).order_by(Source.name)))
