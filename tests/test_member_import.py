from datetime import UTC, datetime

import pytest
from sqlmodel import Session, select

from subscriptions.importing import ImportFileError, ImportReport, export_members, import_members
from subscriptions.members import erase, find_member, topics_of, unsubscribe
from subscriptions.models import ConsentEvent, Member, MemberStatus

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
TOPICS = ["tariffs", "recycling", "events"]
GOOD_AND_BAD = """email,name,organisation,topics,frequency
ann@alfed.example,Ann Lee,ALFED,tariffs;events,weekly
not-an-address,Bob,CMF,tariffs,weekly
cara@cmf.example,Cara,CMF,steel,weekly
dev@cmf.example,Dev,CMF,recycling,monthly
ELLA@Smelter.example,Ella,Smelter Ltd,,daily
"""


def run(session: Session, text: str, *, consent: bool = True) -> ImportReport:
    report = import_members(
        session,
        text,
        known_topics=TOPICS,
        consent_confirmed=consent,
        imported_by="ann@alfed.example",
        now=NOW,
    )
    session.commit()
    return report


def test_good_rows_go_in_and_each_bad_row_is_reported_with_its_line(session: Session) -> None:
    report = run(session, GOOD_AND_BAD)

    assert report.added == 2
    assert [(p.line, p.reason.split(":")[0]) for p in report.problems] == [
        (3, "not a valid email address"),
        (4, "unknown topic steel"),
        (5, "unknown frequency 'monthly'"),
    ]
    assert session.exec(select(Member.email).order_by(Member.email)).all() == [
        "ann@alfed.example",
        "ella@smelter.example",
    ]


def test_reimporting_updates_and_never_duplicates(session: Session) -> None:
    run(session, GOOD_AND_BAD)

    again = run(session, GOOD_AND_BAD.replace("tariffs;events,weekly", "recycling,daily"))

    assert (again.added, again.updated, again.unchanged) == (0, 1, 1)
    ann = find_member(session, "ann@alfed.example")
    assert ann is not None and ann.frequency == "daily"
    assert topics_of(session, ann.id or 0) == ["recycling"]
    assert len(session.exec(select(Member)).all()) == 2


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
    assert report.kept_opted_out == ["ann@alfed.example"]
    assert any(p.line == 6 and "asked to be erased" in p.reason for p in report.problems)
    assert find_member(session, "ella@smelter.example") is None


def test_a_file_without_the_expected_header_is_refused(session: Session) -> None:
    with pytest.raises(ImportFileError, match="the header lacks topics, frequency"):
        run(session, "email,name,organisation\nann@alfed.example,Ann,ALFED\n")


def test_export_writes_the_import_format(session: Session) -> None:
    run(session, GOOD_AND_BAD)

    exported = export_members(session)

    assert exported.splitlines() == [
        "email,name,organisation,topics,frequency",
        "ann@alfed.example,Ann Lee,ALFED,tariffs;events,weekly",
        "ella@smelter.example,Ella,Smelter Ltd,,daily",
    ]
    assert run(session, exported).unchanged == 2
