"""The emails about a member's own subscription, sent: a confirmation link now (a sign-up, a
member added by staff, a link asked for) or, for an import's new members, many through the
delivery ledger; and a fresh manage link."""

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from sqlmodel import Session

from alerter.config import Settings
from alerter.delivery import Transport, single
from alerter.delivery.compose.notices import (
    CONFIRMATION,
    confirmation_mailing,
    confirmation_recipient,
    manage_link_email,
)
from alerter.ledger.planning import Planned, plan
from alerter.ledger.sender import (
    Built,
    Claimed,
    EmailBuilder,
    SendReport,
    by_content,
    send_planned,
)
from alerter.progress import Progress
from subscriptions.members import awaiting_confirmation
from subscriptions.models import Member


def send_confirmation(settings: Settings, transport: Transport, member: Member) -> None:
    """One confirmation email now."""
    recipient = confirmation_recipient(settings, member)
    transport.send(confirmation_mailing().with_recipients((recipient,)))


def send_manage_link(settings: Settings, transport: Transport, member: Member, reason: str) -> None:
    """A fresh manage link: asked for after an old one expired, or on signing up again."""
    transport.send(single(manage_link_email(settings, member, reason)))


def plan_confirmations(session: Session, member_ids: Sequence[int], now: datetime) -> str:
    """Ledger rows for confirmation emails to these pending members (an import's new ones),
    written in the caller's transaction beside the members themselves; `send_confirmations`
    sends them (the worker's dispatcher, if no one sooner). Returns the run's period."""
    period = now.strftime("%Y-%m-%dT%H:%M:%S")
    rows = [Planned(member_id, CONFIRMATION, period, CONFIRMATION) for member_id in member_ids]
    plan(session, rows, now)
    return period


def confirmation_emails(session: Session, settings: Settings) -> EmailBuilder:
    """The ledger's confirmation emails: to members still pending (confirmed since, skipped)."""

    def build(rows: Sequence[Claimed]) -> Iterable[Built]:
        return by_content(
            rows,
            awaiting_confirmation(session, [row.member_id for row in rows]),
            content=lambda row, _: row.content_key,
            mailing=lambda _row, _member: confirmation_mailing(),
            personalize=lambda row, member: confirmation_recipient(
                settings, member, str(row.id), row.message_token
            ),
        )

    return build


def send_confirmations(
    session: Session,
    transport: Transport,
    settings: Settings,
    period: str,
    *,
    progress: Progress | None = None,
) -> SendReport:
    """Send the confirmation emails `plan_confirmations` planned as `period`."""
    return send_planned(
        session,
        transport,
        settings,
        confirmation_emails(session, settings),
        kind=CONFIRMATION,
        period=period,
        clock=lambda: datetime.now(UTC),
        progress=progress,
    )
