"""The dispatcher: every kind of email the delivery ledger holds, each built by its own use
case, and the runs that send whatever is left to send of any kind (the worker's dispatcher,
the deadline alerts' morning run)."""

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from alerter.bulletins import KIND as BULLETIN
from alerter.bulletins import bulletin_emails
from alerter.config import Settings
from alerter.deadlines.deadline_alerts import (
    deadline_emails,
    outcome_for,
    plan_outcome_alerts,
    plan_reminders,
    reminder_for,
)
from alerter.delivery import Transport
from alerter.delivery.compose.deadlines import OUTCOME, REMINDER
from alerter.delivery.compose.notices import CONFIRMATION
from alerter.digests.runs import digest_emails, kind_of
from alerter.digests.selection import DEFAULT_CAP
from alerter.ledger.sender import (
    Clock,
    EmailBuilder,
    SendReport,
    Sleep,
    Waiting,
    by_kind,
    send_planned,
)
from alerter.notices import confirmation_emails
from alerter.progress import Progress
from alerter.topics.taxonomy import Taxonomy
from subscriptions.models import Frequency


def every_email(
    session: Session, settings: Settings, taxonomy: Taxonomy, *, clock: Clock, cap: int
) -> EmailBuilder:
    """The builder for a run over every kind: each kind's rows to its own use case."""
    digests = digest_emails(session, settings, taxonomy, clock=clock, cap=cap)
    return by_kind(
        {
            **{kind_of(frequency): digests for frequency in Frequency},
            BULLETIN: bulletin_emails(session, settings, taxonomy),
            CONFIRMATION: confirmation_emails(session, settings),
            REMINDER: deadline_emails(session, settings, taxonomy, clock=clock, about=reminder_for),
            OUTCOME: deadline_emails(session, settings, taxonomy, clock=clock, about=outcome_for),
        }
    )


def dispatch_planned(
    session: Session,
    transport: Transport,
    settings: Settings,
    taxonomy: Taxonomy,
    *,
    kind: str | None = None,
    period: str | None = None,
    clock: Clock,
    sleep: Sleep = time.sleep,
    cap: int = DEFAULT_CAP,
    progress: Progress | None = None,
    wait: bool = False,
    waiting: Callable[[Waiting], None] | None = None,
) -> SendReport:
    """Send every planned (or abandoned) delivery, of one kind and period or of all, whatever
    its kind: see alerter.ledger.sender.send_planned."""
    return send_planned(
        session,
        transport,
        settings,
        every_email(session, settings, taxonomy, clock=clock, cap=cap),
        kind=kind,
        period=period,
        clock=clock,
        sleep=sleep,
        progress=progress,
        wait=wait,
        waiting=waiting,
    )


@dataclass(frozen=True)
class DeadlineAlertsReport:
    reminders: int  # rows offered to the ledger (those already there are kept once)
    outcomes: int
    sent: SendReport


def run_deadline_alerts(
    session: Session,
    transport: Transport,
    settings: Settings,
    taxonomy: Taxonomy,
    now: datetime,
    *,
    clock: Clock,
) -> DeadlineAlertsReport:
    """Plan the deadline reminders due now and the outcome alerts newly due, then send them
    (and anything else still to send, as the dispatcher would). Running it again the same day
    sends nothing more."""
    reminders = plan_reminders(session, now)
    outcomes = plan_outcome_alerts(session, now)
    sent = dispatch_planned(session, transport, settings, taxonomy, clock=clock)
    return DeadlineAlertsReport(reminders, outcomes, sent)
