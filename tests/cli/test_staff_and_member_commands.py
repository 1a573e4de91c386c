import codecs
import email
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select
from typer.testing import CliRunner

from alerter.cli import app
from alerter.config import Settings, secret_key
from alerter.models import Delivery
from subscriptions.importing import decode
from subscriptions.members import find_member
from subscriptions.staff import (
    BACKOFF_START,
    FREE_FAILURES,
    LoginRateLimited,
    LoginRefused,
    StaffError,
    authenticate,
    backoff,
    create_staff,
)
from subscriptions.tokens import Purpose, read_token

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
runner = CliRunner()
CSV = """email,name,organisation,topics,frequency
ann@alfed.example,Ann Lee,ALFED,tariffs;events,weekly
bad-address,Bob,CMF,tariffs,weekly
"""


def test_importing_without_consent_emails_each_new_member_a_confirmation_link(
    env_settings: Settings, engine: sa.Engine, tmp_path: Path
) -> None:
    csv_file = tmp_path / "members.csv"
    csv_file.write_text(CSV, encoding="utf-8")

    result = runner.invoke(app, ["members", "import", str(csv_file), "--by", "ann@alfed.example"])

    assert result.exit_code == 0, result.output
    assert "line 2: ann@alfed.example: added (awaiting confirmation" in result.stdout
    assert "line 3: bad-address: refused (not a valid email address" in result.stdout
    assert "1 added, 0 updated, 0 left as is, 1 refused" in result.stdout
    assert "confirmation emails: 1 sent" in result.stdout
    with Session(engine) as session:  # sent through the delivery ledger
        [row] = session.exec(select(Delivery)).all()
    assert (row.kind, row.status) == ("confirmation", "sent")
    [sent] = list(Path("outbox").glob("*.eml"))
    message = email.message_from_bytes(sent.read_bytes())
    assert message["To"] == "ann@alfed.example"
    text = next(p for p in message.walk() if p.get_content_type() == "text/plain")
    link = next(w for w in text.get_payload(decode=True).decode().split() if "/confirm/" in w)
    subject = read_token(secret_key(env_settings), Purpose.CONFIRM, link.rsplit("/", 1)[1])
    with Session(engine) as session:
        assert subject.member_id == find_member(session, "ann@alfed.example").id  # type: ignore[union-attr]


def test_importing_with_consent_confirmed_sends_nothing(
    env_settings: Settings, tmp_path: Path
) -> None:
    csv_file = tmp_path / "members.csv"
    csv_file.write_text(CSV, encoding="utf-8")

    result = runner.invoke(app, ["members", "import", str(csv_file), "--consent-confirmed"])

    assert result.exit_code == 0
    assert not list(Path("outbox").glob("*.eml"))


def test_importing_changes_known_members_only_with_update_existing(
    env_settings: Settings, engine: sa.Engine, tmp_path: Path
) -> None:
    csv_file = tmp_path / "members.csv"
    csv_file.write_text(CSV, encoding="utf-8")
    runner.invoke(app, ["members", "import", str(csv_file), "--consent-confirmed"])
    csv_file.write_text(CSV.replace("Ann Lee,ALFED", "Ann Leigh,ALFED"), encoding="utf-8")

    left = runner.invoke(app, ["members", "import", str(csv_file)])
    updated = runner.invoke(app, ["members", "import", str(csv_file), "--update-existing"])

    assert "line 2: ann@alfed.example: left as is (already a member;" in left.stdout
    assert "line 2: ann@alfed.example: updated (name: “Ann Lee” → “Ann Leigh”)" in updated.stdout
    with Session(engine) as session:
        ann = find_member(session, "ann@alfed.example")
        assert ann is not None and ann.name == "Ann Leigh"


def test_export_round_trips_through_the_command_line(
    env_settings: Settings, tmp_path: Path
) -> None:
    csv_file = tmp_path / "members.csv"
    csv_file.write_text(CSV, encoding="utf-8")
    runner.invoke(app, ["members", "import", str(csv_file), "--consent-confirmed"])

    result = runner.invoke(app, ["members", "export"])

    assert result.stdout.splitlines()[1] == (
        "ann@alfed.example,Ann Lee,ALFED,tariffs;events,weekly,active"
    )


def test_an_exported_file_opens_in_excel_with_its_accents_and_imports_again(
    env_settings: Settings, tmp_path: Path
) -> None:
    csv_file = tmp_path / "members.csv"
    csv_file.write_text(CSV.replace("Ann Lee", "Zoë Lefèvre £"), encoding="utf-8")
    runner.invoke(app, ["members", "import", str(csv_file), "--consent-confirmed"])
    exported = tmp_path / "export.csv"

    result = runner.invoke(app, ["members", "export", "--out", str(exported)])

    assert result.exit_code == 0, result.output
    data = exported.read_bytes()
    assert data.startswith(codecs.BOM_UTF8)  # without it Excel reads Windows-1252
    assert "Zoë Lefèvre £" in decode(data)
    again = runner.invoke(app, ["members", "import", str(exported), "--update-existing"])
    assert "0 added, 0 updated, 1 left as is, 0 refused" in again.stdout


def test_staff_create_asks_for_the_password_twice(
    env_settings: Settings, engine: sa.Engine
) -> None:
    result = runner.invoke(
        app,
        ["staff", "create", "Ann@ALFED.example"],
        input="correct horse battery\ncorrect horse battery\n",
    )

    assert result.exit_code == 0, result.output
    with Session(engine) as session:
        staff = authenticate(session, "ann@alfed.example", "correct horse battery", "1.2.3.4", NOW)
    assert staff.email == "ann@alfed.example"
    assert staff.password_hash.startswith("$argon2")


def test_a_short_password_or_a_second_account_is_refused(session: Session) -> None:
    create_staff(session, "ann@alfed.example", "long enough passphrase", NOW)

    with pytest.raises(StaffError, match="at least 12 characters"):
        create_staff(session, "bob@alfed.example", "short", NOW)
    with pytest.raises(StaffError, match="already exists"):
        create_staff(session, "ANN@alfed.example", "another long passphrase", NOW)


def fail_logins(session: Session, client: str, times: int, at: datetime = NOW) -> None:
    for attempt in range(times):
        with pytest.raises(LoginRefused, match="wrong email address or password"):
            authenticate(session, "ann@alfed.example", f"guess {attempt}", client, at)


def test_failed_logins_make_that_client_wait_longer_each_time(session: Session) -> None:
    create_staff(session, "ann@alfed.example", "long enough passphrase", NOW)
    fail_logins(session, "9.9.9.9", FREE_FAILURES)

    with pytest.raises(LoginRateLimited, match="try again in 31 seconds"):
        authenticate(session, "ann@alfed.example", "long enough passphrase", "9.9.9.9", NOW)
    fail_logins(session, "9.9.9.9", 1, at=NOW + BACKOFF_START)  # a sixth failure
    with pytest.raises(LoginRateLimited):
        authenticate(
            session,
            "ann@alfed.example",
            "long enough passphrase",
            "9.9.9.9",
            NOW + 2 * BACKOFF_START,
        )
    later = NOW + BACKOFF_START * 3
    assert authenticate(session, "ann@alfed.example", "long enough passphrase", "9.9.9.9", later)
    assert [backoff(n) for n in (4, 5, 6, 7, 30)] == [
        timedelta(0),
        BACKOFF_START,
        BACKOFF_START * 2,
        BACKOFF_START * 4,
        timedelta(minutes=15),
    ]


def test_failures_from_one_client_never_keep_the_staff_member_out(session: Session) -> None:
    create_staff(session, "ann@alfed.example", "long enough passphrase", NOW)
    # Someone failing with Ann's address on purpose, from many clients.
    for client in range(3):
        fail_logins(session, f"9.9.9.{client}", FREE_FAILURES)

    staff = authenticate(session, "ann@alfed.example", "long enough passphrase", "1.1.1.1", NOW)

    assert staff.email == "ann@alfed.example"


def test_an_unknown_address_is_refused_like_a_wrong_password(session: Session) -> None:
    with pytest.raises(LoginRefused, match="wrong email address or password"):
        authenticate(session, "nobody@alfed.example", "whatever it is", "9.9.9.9", NOW)
