"""Progress bars for long command-line work: drawn on a terminal, silent anywhere else."""

import io

from typer.testing import CliRunner

from alerter.cli import app
from alerter.config import Settings
from alerter.progress import progress_bar


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_on_a_terminal_the_bar_shows_the_label_and_how_far_the_work_is() -> None:
    screen = Terminal()

    with progress_bar("importing", screen) as progress:
        for done in range(1, 5):
            progress(done, 4)

    drawn = screen.getvalue()
    assert "importing" in drawn and "100%" in drawn


def test_off_a_terminal_nothing_is_drawn() -> None:
    piped = io.StringIO()

    with progress_bar("importing", piped) as progress:
        progress(1, 4)
        progress(4, 4)

    assert piped.getvalue() == ""


def test_a_piped_command_prints_its_report_and_no_bar(env_settings: Settings) -> None:
    result = CliRunner().invoke(app, ["reclassify"])

    assert result.exit_code == 0, result.output
    assert result.output == "reclassified 0 items\n"
