"""Structured logs: with ALERTER_LOG_FORMAT=json every line is one JSON object, carrying the
source, member and delivery a record is about, and never an email address."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from alerter.cli import app
from alerter.config import Settings

runner = CliRunner()


def json_lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def test_a_failing_source_is_logged_as_json_with_its_name(
    env_settings: Settings, sources_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALERTER_LOG_FORMAT", "json")
    sources_file.write_text(
        '[[sources]]\nname = "DBT news"\nkind = "feed"\nurl = "http://127.0.0.1:9/feed"\n'
        'publisher = "DBT"\n',
        encoding="utf-8",
    )

    result = runner.invoke(app, ["-v", "poll"])

    assert result.exit_code == 0, result.output
    [failure] = [r for r in json_lines(result.stderr) if "failed" in str(r["message"])]
    assert failure["source"] == "DBT news"
    assert failure["level"] == "INFO" and failure["logger"] == "alerter.ingest.poll"
    assert str(failure["time"]).endswith("+00:00")
