"""Telling staff of trouble without their looking: a source failing for a day, an HTML page whose
selectors stopped matching, a digest or bulletin with failed deliveries, left unsent or in
doubt. One email per problem: an open alert is not mailed again, and it closes when the problem
goes."""

import logging
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, col, select

from alerter.config import Settings
from alerter.delivery import DeliveryError, Transport, single
from alerter.delivery.compose.staff_alerts import Problem, staff_alert_email
from alerter.models import Delivery, Source, StaffAlert

log = logging.getLogger(__name__)

FAILING_FOR = timedelta(hours=24)
UNSENT_AFTER = timedelta(hours=1)  # deliveries still waiting this long after planning
RECENT = timedelta(days=7)  # how far back failed deliveries are looked for


def current_problems(session: Session, now: datetime) -> list[Problem]:
    """Every problem staff should hear of, as things stand."""
    return [*_source_problems(session, now), *_delivery_problems(session, now)]


def _source_problems(session: Session, now: datetime) -> list[Problem]:
    problems = []
    for source in session.exec(select(Source).where(col(Source.enabled).is_(True))):
        if source.last_error_kind == "layout":
            problems.append(
                Problem(
                    f"layout:{source.id}",
                    f"{source.name}: its page layout seems to have changed",
                    (
                        f"{source.url} no longer matches the selectors alerter reads it with:",
                        source.last_error or "",
                        "Capture the selectors again from the live page and update the source.",
                    ),
                )
            )
        elif source.failing_since is not None and source.failing_since <= now - FAILING_FOR:
            hours = int((now - source.failing_since).total_seconds() // 3600)
            problems.append(
                Problem(
                    f"source-failing:{source.id}",
                    f"{source.name} has failed for {hours} hours",
                    (
                        f"Every poll of {source.url} since {source.failing_since:%d %B %Y %H:%M} "
                        f"UTC has failed ({source.consecutive_failures} in a row).",
                        f"The last error: {source.last_error}",
                    ),
                )
            )
    return problems


def _delivery_problems(session: Session, now: datetime) -> list[Problem]:
    problems = []
    failed = session.exec(
        select(Delivery.kind, Delivery.period, sa.func.count())
        .where(Delivery.status == "failed", col(Delivery.planned_at) >= now - RECENT)
        .group_by(col(Delivery.kind), col(Delivery.period))
    ).all()
    for kind, period, count in failed:
        reasons = session.exec(
            select(Delivery.error)
            .where(Delivery.kind == kind, Delivery.period == period, Delivery.status == "failed")
            .distinct()
            .limit(5)
        ).all()
        problems.append(
            Problem(
                f"deliveries-failed:{kind}:{period}",
                f"{_emails(count, kind)} of {period} failed",
                ("The mail service refused them:", *(r or "no reason given" for r in reasons)),
                "/staff/deliveries",
            )
        )
    unsent = session.exec(
        select(Delivery.kind, Delivery.period, sa.func.count())
        .where(
            col(Delivery.status).in_(["planned", "sending"]),
            col(Delivery.planned_at) < now - UNSENT_AFTER,
        )
        .group_by(col(Delivery.kind), col(Delivery.period))
    ).all()
    for kind, period, count in unsent:
        problems.append(
            Problem(
                f"deliveries-unsent:{kind}:{period}",
                f"{_emails(count, kind)} of {period} still unsent after an hour",
                (
                    "The run that planned them could not finish: is the worker running, and "
                    "does the mail service answer? They are sent as soon as it can.",
                ),
                "/staff/deliveries",
            )
        )
    in_doubt = session.exec(
        select(Delivery.kind, Delivery.period, sa.func.count())
        .where(
            Delivery.status == "in_doubt",
            col(Delivery.claimed_until).is_(None),
            col(Delivery.planned_at) >= now - RECENT,
        )
        .group_by(col(Delivery.kind), col(Delivery.period))
    ).all()
    for kind, period, count in in_doubt:
        problems.append(
            Problem(
                f"deliveries-in-doubt:{kind}:{period}",
                f"{_emails(count, kind)} of {period} in doubt",
                (
                    "SendGrid's answer to their request was lost and their batch could not be "
                    "cancelled in time: they may have been delivered. SendGrid's events settle "
                    "them if its Event Webhook sends processed events; otherwise decide on the "
                    "run's Deliveries page.",
                ),
                "/staff/deliveries",
            )
        )
    return problems


def _emails(count: int, kind: str) -> str:
    """ "3 weekly digest emails", "1 bulletin email"."""
    words = f"{kind.removeprefix('digest-')} digest" if kind.startswith("digest-") else kind
    return f"{count} {words} email{'' if count == 1 else 's'}"


def alert_staff(session: Session, transport: Transport, settings: Settings, now: datetime) -> int:
    """Open an alert for each new problem and email staff about it; close the alerts of
    problems that went away. An alert whose email could not be sent is tried again next time.
    Returns the number of emails sent."""
    problems = {p.key: p for p in current_problems(session, now)}
    open_alerts = {
        alert.key: alert
        for alert in session.exec(select(StaffAlert).where(col(StaffAlert.closed_at).is_(None)))
    }
    for key, alert in open_alerts.items():
        if key not in problems:
            alert.closed_at = now
    for key, problem in problems.items():
        if key not in open_alerts:
            open_alerts[key] = StaffAlert(
                key=key, subject=problem.subject, detail="\n".join(problem.details), opened_at=now
            )
            session.add(open_alerts[key])
    session.commit()
    recipients = [a.strip() for a in (settings.staff_email or "").split(",") if a.strip()]
    sent = 0
    for key, alert in open_alerts.items():
        if alert.notified or key not in problems:
            continue
        if not recipients:
            log.warning("staff alert (ALERTER_STAFF_EMAIL is not set): %s", alert.subject)
            continue
        try:
            for address in recipients:
                transport.send(single(staff_alert_email(settings, problems[key], address)))
        except DeliveryError as error:
            log.warning("staff alert %r not sent: %s", alert.subject, error)
            continue
        alert.notified = True
        session.commit()
        sent += 1
    return sent
