"""Jinja2 templates (the top-level templates/ folder) for emails and pages."""

from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from alerter.config import PACKAGE_DIR

TEMPLATES_DIR = PACKAGE_DIR.parent / "templates"


@lru_cache
def environment() -> Environment:
    # Autoescaping everywhere but plain-text templates: feed text is never trusted as HTML.
    return Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render(template: str, **context: Any) -> str:
    return environment().get_template(template).render(**context)


def template_path(name: str) -> Path:
    return TEMPLATES_DIR / name
