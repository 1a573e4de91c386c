"""Jinja2 templates (the top-level templates/ folder) for emails and pages."""

import textwrap
from datetime import UTC, date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from alerter import branding
from alerter.config import PACKAGE_DIR

TEMPLATES_DIR = PACKAGE_DIR.parent / "templates"
LONDON = ZoneInfo("Europe/London")


@lru_cache(maxsize=4096)
def wrap_paragraph(text: str, width: int = 76, indent: int = 2) -> str:
    """A paragraph wrapped to `width` columns, its lines after the first indented. Cached:
    a digest run renders the same summaries in many members' emails."""
    return textwrap.fill(text, width, subsequent_indent=" " * indent, break_on_hyphens=False)


def capitalize_first(text: str) -> str:
    """The first letter in capitals, the rest as written (Jinja's `capitalize` lowers it)."""
    return text[:1].upper() + text[1:]


def when(value: datetime | date | None, now: datetime | None = None) -> str:
    """A time as staff read it, in London: "3 Dec 08:09", the year added when it is not this
    year's ("3 Dec 2025 08:09"); a date without a time is "3 Dec". Every page uses this one."""
    if value is None:
        return ""
    this_year = (now or datetime.now(UTC)).astimezone(LONDON).year
    if not isinstance(value, datetime):
        return f"{value.day} {value:%b}" + (f" {value.year}" if value.year != this_year else "")
    # Stored times are aware UTC; a naive one is taken as UTC too.
    local = (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(LONDON)
    year = f" {local.year}" if local.year != this_year else ""
    return f"{local.day} {local:%b}{year} {local:%H:%M}"


@lru_cache
def environment() -> Environment:
    # Autoescaping everywhere but plain-text templates: feed text is never trusted as HTML.
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["wrap_paragraph"] = wrap_paragraph
    env.filters["capitalize_first"] = capitalize_first
    env.filters["when"] = when
    # `brand()` in any template: the association's name, colour and footer as last read.
    env.globals["brand"] = branding.current
    return env


def render(template: str, **context: Any) -> str:
    return environment().get_template(template).render(**context)


def template_path(name: str) -> Path:
    return TEMPLATES_DIR / name
