from datetime import UTC, date, datetime

from sqlmodel import Session, select

from alerter.audit import record
from alerter.models import AuditEvent, Source
from subscriptions.models import StaffUser

NOW = datetime(2026, 12, 8, 9, 30, tzinfo=UTC)


def test_an_event_copies_who_acted_and_what_changed(session: Session) -> None:
    staff = StaffUser(id=7, email="sam@association.example", password_hash="x", created_at=NOW)
    source = Source(
        id=3, name="ALFED news", kind="feed", url="https://alfed.example/feed", publisher="ALFED"
    )

    record(
        session,
        staff,
        "source.pause",
        source,
        {"enabled": True},
        {"enabled": False, "on": date(2026, 12, 8)},
        ip="203.0.113.9",
        at=NOW,
    )
    session.commit()

    event = session.exec(select(AuditEvent)).one()
    assert (event.actor_id, event.actor_email, event.action) == (
        7,
        "sam@association.example",
        "source.pause",
    )
    assert (event.target_type, event.target_id) == ("source", "3")
    assert event.before == {"enabled": True}
    assert event.after == {"enabled": False, "on": "2026-12-08"}
    assert (event.at, event.ip) == (NOW, "203.0.113.9")


def test_a_target_may_be_a_kind_and_an_id_and_the_actor_no_one(session: Session) -> None:
    record(session, None, "staff.sign_in_failed", ("staff_user", "jo@example.org"), at=NOW)
    session.commit()

    event = session.exec(select(AuditEvent)).one()
    assert (event.actor_id, event.actor_email) == (None, "")
    assert (event.target_type, event.target_id) == ("staff_user", "jo@example.org")
    assert event.before is None and event.after is None
