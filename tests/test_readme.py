"""The README stays true: every setting is in its configuration table, every command in its
commands table, and its two newcomer commands are the ones CI relies on."""

import re
from pathlib import Path

from typer.main import get_command

from alerter.cli import app
from alerter.config import Settings

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def test_every_setting_is_documented_in_the_configuration_table() -> None:
    documented = set(re.findall(r"^\| `((?:ALERTER_|SENDGRID_)[A-Z_]+)` \|", README, re.M))
    expected = {f"ALERTER_{name.upper()}" for name in Settings.model_fields}
    expected = expected - {"ALERTER_SENDGRID_API_KEY"} | {"SENDGRID_API_KEY"}

    assert documented == expected


def test_every_command_is_in_the_commands_table() -> None:
    documented = set(re.findall(r"^\| `alerter ([a-z]+(?: [a-z]+)?)", README, re.M))
    group = get_command(app)
    commands = set()
    for name, command in group.commands.items():  # type: ignore[attr-defined]
        subcommands = getattr(command, "commands", None)
        commands |= {f"{name} {sub}" for sub in subcommands} if subcommands else {name}

    assert commands - documented == set()


def test_the_test_command_is_the_one_ci_runs() -> None:
    ci = (Path(__file__).resolve().parent.parent / ".ci" / "run").read_text(encoding="utf-8")

    assert ".venv/bin/pip install -e '.[dev]' && .venv/bin/pytest" in README
    assert ".venv/bin/pip install --quiet -e '.[dev]'" in ci and ".venv/bin/pytest" in ci
