"""docker-compose.yml cannot be run here (no Docker engine): check that it parses and holds
together, and that what it runs and sets exists in alerter."""

import re
from pathlib import Path
from typing import Any

import yaml
from typer.main import get_command

from alerter.cli import app
from alerter.config import Settings

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]


def test_it_runs_postgresql_the_web_app_the_worker_and_mailpit() -> None:
    assert set(SERVICES) == {"db", "web", "worker", "mailpit"}
    assert SERVICES["db"]["image"].startswith("postgres:")
    assert SERVICES["mailpit"]["image"].startswith("axllent/mailpit:")
    assert SERVICES["web"]["build"] == SERVICES["worker"]["build"] == "."
    assert (ROOT / "Dockerfile").is_file()


def test_every_service_restarts_and_checks_its_health() -> None:
    for name, service in SERVICES.items():
        assert service["restart"] == "unless-stopped", name
        assert service["healthcheck"]["test"], name


def test_the_database_keeps_its_data_in_a_named_volume() -> None:
    [mount] = SERVICES["db"]["volumes"]
    volume, _, path = mount.partition(":")
    assert volume in COMPOSE["volumes"] and path == "/var/lib/postgresql/data"


def test_the_app_starts_only_once_the_database_is_healthy() -> None:
    for name in ("web", "worker"):
        assert SERVICES[name]["depends_on"]["db"]["condition"] == "service_healthy"


def test_the_commands_it_runs_are_alerters() -> None:
    commands = set(get_command(app).commands)  # type: ignore[attr-defined]
    assert SERVICES["web"]["command"][:2] == ["alerter", "serve"]
    assert SERVICES["worker"]["command"] == ["alerter", "worker"]
    assert SERVICES["worker"]["healthcheck"]["test"][1:] == ["alerter", "ready"]
    assert {"serve", "worker", "ready"} <= commands


def test_its_configuration_is_alerters_settings_pointing_at_its_own_services() -> None:
    environment = SERVICES["web"]["environment"]
    assert environment == SERVICES["worker"]["environment"]
    known = {f"ALERTER_{name.upper()}" for name in Settings.model_fields} | {"SENDGRID_API_KEY"}
    assert set(environment) <= known
    assert re.search(r"@db:5432/", environment["ALERTER_DATABASE_URL"])
    assert environment["ALERTER_SMTP_URL"].endswith("smtp://mailpit:1025}")
    assert environment["ALERTER_DATABASE_URL"].startswith("postgresql+psycopg://")
