"""Jinja2 templates (the top-level templates/ folder) for emails and pages."""

import textwrap
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from alerter.config import PACKAGE_DIR

TEMPLATES_DIR = PACKAGE_DIR.parent / "templates"


@lru_cache(maxsize=4096)
def wrap_paragraph(text: str, width: int = 76, indent: int = 2) -> str:
    """A paragraph wrapped to `width` columns, its lines after the first indented. Cached:
    a digest run renders the same summaries in many members' emails."""
    return textwrap.fill(text, width, subsequent_indent=" " * indent, break_on_hyphens=False)


def capitalize_first(text: str) -> str:
    """The first letter in capitals, the rest as written (Jinja's `capitalize` lowers it)."""
    return text[:1].upper() + text[1:]


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
    return env


def render(template: str, **context: Any) -> str:
    return environment().get_template(template).render(**context)


def template_path(name: str) -> Path:
    return TEMPLATES_DIR / name
