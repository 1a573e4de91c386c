"""The audit log: one call records a staff action, in the transaction that makes the change,
so a change is never saved without its record nor recorded without being saved."""

import json
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlmodel import Session, SQLModel

from alerter.models import AuditEvent


class Actor(Protocol):
    """Who acted: a staff account (subscriptions.models.StaffUser has these)."""

    @property
    def id(self) -> int | None: ...

    @property
    def email(self) -> str: ...


# A table row (its table name and id), or a kind and an id: ("setting", "sender_name").
Target = SQLModel | tuple[str, object] | None


def _target(target: Target) -> tuple[str, str]:
    if target is None:
        return "", ""
    if isinstance(target, tuple):
        kind, ident = target
        return kind, str(ident)
    return str(getattr(target, "__tablename__", type(target).__name__)), str(
        getattr(target, "id", "")
    )


def _json(value: dict[str, Any] | None) -> dict[str, Any] | None:
    # Dates, enums and decimals as text: what the row said, readable in the CSV.
    return None if value is None else json.loads(json.dumps(value, default=str))


def record(
    session: Session,
    actor: Actor | None,
    action: str,
    target: Target = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    *,
    ip: str | None = None,
    at: datetime | None = None,
) -> AuditEvent:
    """Add one audit event to `session` (committed with the action it records). `action` is
    "thing.verb" ("source.update", "staff.sign_in"); `actor` None is someone not signed in."""
    target_type, target_id = _target(target)
    event = AuditEvent(
        at=at or datetime.now(UTC),
        actor_id=actor.id if actor is not None else None,
        actor_email=actor.email if actor is not None else "",
        action=action,
        target_type=target_type,
        target_id=target_id,
        before=_json(before),
        after=_json(after),
        ip=ip,
    )
    session.add(event)
    return event
