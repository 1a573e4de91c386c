"""Importing and exporting members as CSV: files as spreadsheets save them, every row's
outcome reported, existing members changed only when asked."""

import csv
import io
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlmodel import Session, select

from subscriptions.importing import (
    ImportFileError,
    ImportReport,
    Outcome,
    decode,
    export_members,
    import_members,
)
from subscriptions.members import add_member, erase, find_member, topics_of, unsubscribe
from subscriptions.models import ConsentEvent, Frequency, Member, MemberStatus, MemberTopic

FIXTURES = Path(__file__).parent.parent / "fixtures"
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
TOPICS = ["tariffs", "recycling", "events", "energy"]
GOOD_AND_BAD = """email,name,organisation,topics,frequency
ann@alfed.example,Ann Lee,ALFED,tariffs;events,weekly
not-an-address,Bob,CMF,tariffs,weekly
cara@cmf.example,Cara,CMF,steel,weekly
dev@cmf.example,Dev,CMF,recycling,monthly
ELLA@Smelter.example,Ella,Smelter Ltd,,daily
"""


def run(session: Session, text: str, *, consent: bool = True, update: bool = False) -> ImportReport:
    report = import_members(
        session,
        text,
        known_topics=TOPICS,
        consent_confirmed=consent,
        update_existing=update,
        imported_by="ann@alfed.example",
        now=NOW,
    )
    session.commit()
    return report


def outcomes(report: ImportReport) -> list[tuple[int, str, str]]:
    return [(row.line, row.email, row.outcome) for row in report.rows]


def reasons(report: ImportReport) -> dict[int, str]:
    return {row.line: row.detail for row in report.refused}


def test_good_rows_go_in_and_each_bad_row_is_reported_with_its_line(session: Session) -> None:
    report = run(session, GOOD_AND_BAD)

    assert report.count(Outcome.ADDED) == 2
    assert [(row.line, row.detail.split(":")[0]) for row in report.refused] == [
        (3, "not a valid email address"),
        (4, "unknown topic steel"),
        (5, "unknown frequency 'monthly'"),
    ]
    assert session.exec(select(Member.email).order_by(Member.email)).all() == [
        "ann@alfed.example",
        "ella@smelter.example",
    ]


def test_the_report_gives_every_rows_outcome_in_file_order(session: Session) -> None:
    report = run(session, GOOD_AND_BAD, consent=False)

    assert outcomes(report) == [
        (2, "ann@alfed.example", Outcome.ADDED),
        (3, "not-an-address", Outcome.REFUSED),
        (4, "cara@cmf.example", Outcome.REFUSED),
        (5, "dev@cmf.example", Outcome.REFUSED),
        (6, "ella@smelter.example", Outcome.ADDED),
    ]
    assert report.rows[0].detail == "awaiting confirmation: a confirmation email is sent"
    assert report.summary() == "2 added, 0 updated, 0 left as is, 3 refused"


def test_a_quote_left_open_refuses_its_own_row_and_swallows_no_other(session: Session) -> None:
    text = decode((FIXTURES / "members_unclosed_quote.csv").read_bytes())

    report = run(session, text)

    assert outcomes(report) == [
        (2, "ann@alfed.example", Outcome.REFUSED),
        (3, "bob@cmf.example", Outcome.ADDED),
        (4, "cara@cmf.example", Outcome.ADDED),
        (5, "dev@forge.example", Outcome.ADDED),
        (6, "ella@smelter.example", Outcome.ADDED),
    ]
    assert "a quote opens a field that does not close on this line" in reasons(report)[2]
    names = session.exec(select(Member.name).order_by(Member.name)).all()
    assert names == ["Bob Hart", "Cara Singh", "Dev Patel", "Ella Jones"]


def test_rows_with_too_few_or_too_many_columns_are_refused(session: Session) -> None:
    report = run(
        session,
        "email,name,organisation,topics,frequency\n"
        "ann@alfed.example,Ann Lee,ALFED\n"
        "bob@cmf.example,Bob,CMF,tariffs,weekly,bob@other.example\n"
        "cara@cmf.example,Cara,CMF,tariffs,weekly\n",
    )

    assert reasons(report) == {
        2: "3 columns where the header has 5",
        3: "6 columns where the header has 5",
    }
    assert session.exec(select(Member.email)).all() == ["cara@cmf.example"]


def test_over_long_fields_and_control_characters_are_refused(session: Session) -> None:
    report = run(
        session,
        "email,name,organisation,topics,frequency\n"
        f"ann@alfed.example,{'A' * 201},ALFED,tariffs,weekly\n"
        "bob@cmf.example,Bob\x07,CMF,tariffs,weekly\n",
    )

    assert reasons(report) == {
        2: "the name is 201 characters long; at most 200",
        3: "the name contains a control character",
    }
    assert session.exec(select(Member)).all() == []


def test_a_file_saved_by_excel_as_windows_1252_is_read(session: Session) -> None:
    text = decode((FIXTURES / "members_excel_windows1252.csv").read_bytes())

    report = run(session, text)

    assert report.count(Outcome.ADDED) == 2
    zoe, sian = find_member(session, "zoe@alfed.example"), find_member(session, "sian@cmf.example")
    assert zoe is not None and zoe.name == "Zoë O\u2019Brien"
    assert sian is not None and (sian.name, sian.organisation) == ("Siân Evans", "£ Metals Ltd")


def test_a_file_saved_by_excel_as_unicode_text_is_read(session: Session) -> None:
    text = decode((FIXTURES / "members_excel_unicode_text.txt").read_bytes())

    report = run(session, text)

    assert report.count(Outcome.ADDED) == 2
    lukasz = find_member(session, "lukasz@forge.example")
    assert lukasz is not None and lukasz.name == "Łukasz Nowak"
    assert topics_of(session, lukasz.id or 0) == ["energy"]


def test_a_file_that_is_not_text_is_refused_as_a_whole() -> None:
    with pytest.raises(ImportFileError, match="this is not a CSV file"):
        decode(b"PK\x03\x04\x14\x00\x06\x00 a spreadsheet saved as .xlsx")


def test_existing_members_are_left_as_they_are_unless_updating_is_asked_for(
    session: Session,
) -> None:
    add_member(
        session,
        "ann@alfed.example",
        name="Ann Lee",
        organisation="ALFED",
        topics=["recycling"],
        frequency=Frequency.DAILY,
        consent_confirmed=True,
        added_by="signup",
        now=NOW,
    )
    session.commit()

    report = run(session, GOOD_AND_BAD)

    ann = find_member(session, "ann@alfed.example")
    assert ann is not None and (ann.name, ann.frequency) == ("Ann Lee", "daily")
    assert topics_of(session, ann.id or 0) == ["recycling"]
    [row] = [row for row in report.rows if row.email == "ann@alfed.example"]
    assert row.outcome == Outcome.LEFT
    assert row.detail.startswith("already a member; their details are not changed")


def test_updating_existing_members_reports_what_changed(session: Session) -> None:
    run(session, GOOD_AND_BAD)

    again = run(
        session,
        GOOD_AND_BAD.replace(
            "Ann Lee,ALFED,tariffs;events,weekly", "Ann Lee,ALFED,recycling,daily"
        ),
        update=True,
    )

    assert [(row.email, row.outcome, row.detail) for row in again.rows[:1] + again.rows[-1:]] == [
        (
            "ann@alfed.example",
            Outcome.UPDATED,
            "topics: “tariffs, events” → “recycling”; frequency: “weekly” → “daily”",
        ),
        ("ella@smelter.example", Outcome.LEFT, "already as the file says"),
    ]
    ann = find_member(session, "ann@alfed.example")
    assert ann is not None and ann.frequency == "daily"
    assert topics_of(session, ann.id or 0) == ["recycling"]
    assert len(session.exec(select(Member)).all()) == 2


def test_updating_saves_each_changed_member_and_logs_their_new_choices(session: Session) -> None:
    run(session, GOOD_AND_BAD)
    ella = find_member(session, "ella@smelter.example")
    assert ella is not None
    ann_topics_before = session.exec(
        select(MemberTopic.id).join(Member).where(Member.email == "ann@alfed.example")
    ).all()

    run(
        session,
        GOOD_AND_BAD.replace("Ann Lee,ALFED,", "Ann Lee-Hart,ALFED Ltd,").replace(
            "Ella,Smelter Ltd,,daily", "Ella,Smelter Ltd,energy;recycling,daily"
        ),
        update=True,
    )

    ann = find_member(session, "ann@alfed.example")
    assert ann is not None and (ann.name, ann.organisation) == ("Ann Lee-Hart", "ALFED Ltd")
    # Ann's topics did not change: her rows stay as they were.
    assert session.exec(select(MemberTopic.id).where(MemberTopic.member_id == ann.id)).all() == (
        ann_topics_before
    )
    assert topics_of(session, ella.id or 0) == ["recycling", "energy"]
    logged = session.exec(
        select(Member.email, ConsentEvent.method, ConsentEvent.detail)
        .join(Member)
        .where(ConsentEvent.action == "import-update")
        .order_by(Member.email)
    ).all()
    method = "staff import by ann@alfed.example (consent confirmed by staff)"
    assert logged == [
        ("ann@alfed.example", method, "topics: tariffs, events; frequency: weekly"),
        ("ella@smelter.example", method, "topics: recycling, energy; frequency: daily"),
    ]


def test_a_member_object_already_held_reads_the_imported_changes(session: Session) -> None:
    run(session, GOOD_AND_BAD)
    ann = find_member(session, "ann@alfed.example")
    assert ann is not None and ann.name == "Ann Lee"

    import_members(
        session,
        GOOD_AND_BAD.replace("Ann Lee,", "Ann Hart,"),
        known_topics=TOPICS,
        consent_confirmed=True,
        update_existing=True,
        imported_by="ann@alfed.example",
        now=NOW,
    )

    assert ann.name == "Ann Hart"


def test_confirmed_consent_makes_members_active_and_is_logged(session: Session) -> None:
    run(session, GOOD_AND_BAD, consent=True)

    ann = find_member(session, "ann@alfed.example")
    assert ann is not None and ann.status == MemberStatus.ACTIVE
    [event] = session.exec(select(ConsentEvent).where(ConsentEvent.member_id == ann.id)).all()
    assert event.action == "import"
    assert event.method == "staff import by ann@alfed.example (consent confirmed by staff)"


def test_without_confirmed_consent_members_wait_for_a_confirmation_email(session: Session) -> None:
    report = run(session, GOOD_AND_BAD, consent=False)

    ann = find_member(session, "ann@alfed.example")
    assert ann is not None and ann.status == MemberStatus.PENDING
    assert ann.id in report.to_confirm


def test_an_import_never_resubscribes_an_unsubscribed_or_erased_member(session: Session) -> None:
    run(session, GOOD_AND_BAD)
    ann, ella = (
        find_member(session, "ann@alfed.example"),
        find_member(session, "ella@smelter.example"),
    )
    assert ann is not None and ella is not None
    unsubscribe(session, ann, "one-click", NOW)
    erase(session, ella, "member's request", NOW)
    session.commit()

    report = run(session, GOOD_AND_BAD)

    assert ann.status == MemberStatus.UNSUBSCRIBED
    assert (report.rows[0].outcome, report.rows[0].detail) == (
        Outcome.LEFT,
        "unsubscribed: an import never subscribes them again",
    )
    assert "asked to be erased" in reasons(report)[6]
    assert find_member(session, "ella@smelter.example") is None


def test_a_file_without_the_expected_header_is_refused(session: Session) -> None:
    with pytest.raises(ImportFileError, match="the header lacks topics, frequency"):
        run(session, "email,name,organisation\nann@alfed.example,Ann,ALFED\n")


def test_export_writes_the_import_format(session: Session) -> None:
    run(session, GOOD_AND_BAD)

    exported = export_members(session)

    assert exported.splitlines() == [
        "email,name,organisation,topics,frequency,status",
        "ann@alfed.example,Ann Lee,ALFED,tariffs;events,weekly,active",
        "ella@smelter.example,Ella,Smelter Ltd,,daily,active",
    ]
    assert run(session, exported, update=True).count(Outcome.LEFT) == 2


def test_export_neutralises_cells_a_spreadsheet_would_take_for_formulas(
    session: Session,
) -> None:
    run(
        session,
        "email,name,organisation,topics,frequency\n"
        'ann@alfed.example,=HYPERLINK("http://evil.example"),+44 ALFED,tariffs,weekly\n'
        "bob@cmf.example,@SUM(A1),-CMF-,tariffs,weekly\n",
    )

    rows = list(csv.reader(io.StringIO(export_members(session))))

    assert rows[1:] == [
        [
            "ann@alfed.example",
            '\'=HYPERLINK("http://evil.example")',
            "'+44 ALFED",
            "tariffs",
            "weekly",
            "active",
        ],
        ["bob@cmf.example", "'@SUM(A1)", "'-CMF-", "tariffs", "weekly", "active"],
    ]
    # Imported again, the cells are what they were.
    assert run(session, export_members(session), update=True).count(Outcome.LEFT) == 2
