"""The association's own responses to consultations, calls for evidence and committee
inquiries: staff mark one as "the association is responding" with an earlier deadline for
members' views, which members then see beside the item (digests, the news page, reminders,
calendars)."""

from collections.abc import Sequence
from datetime import date, datetime

import sqlalchemy as sa
from sqlmodel import Session, select

from alerter.db import among
from alerter.deadlines.closing import DEADLINE_TYPES, UK, closing_date, is_open, short_date
from alerter.models import AssociationResponse, Item

# Item ids asked about in one query, at most (SQLite binds one parameter per id).
_CHUNK = 500
_RESPONSES: sa.Table = AssociationResponse.__table__  # type: ignore[attr-defined]


class ResponseError(ValueError):
    """Why this item cannot be marked, in words staff can act on."""


def mark_responding(
    session: Session, item_id: int, respond_by: date, *, by: str, now: datetime
) -> AssociationResponse:
    """Record (or move) the association's deadline for members' views on an open item: from
    today to the item's own closing date."""
    item = session.get(Item, item_id)
    if item is None or item.document_type not in DEADLINE_TYPES or item.closes_at is None:
        raise ResponseError(f"item {item_id} is not a consultation, call for evidence or inquiry")
    if not is_open(item.closes_at, now):
        raise ResponseError(f"{item.title!r} has closed")
    today, closes = now.astimezone(UK).date(), closing_date(item.closes_at)
    if not today <= respond_by <= closes:
        raise ResponseError(
            f"the association's deadline must be between today and the closing date, "
            f"{short_date(closes, today)}"
        )
    response = session.exec(
        select(AssociationResponse).where(AssociationResponse.item_id == item_id)
    ).first() or AssociationResponse(item_id=item_id, respond_by=respond_by, marked_by=by)
    response.respond_by, response.marked_by, response.marked_at = respond_by, by, now
    session.add(response)
    session.commit()
    return response


def stop_responding(session: Session, item_id: int) -> bool:
    """The association is no longer responding; False if it was not marked."""
    response = session.exec(
        select(AssociationResponse).where(AssociationResponse.item_id == item_id)
    ).first()
    if response is None:
        return False
    session.delete(response)
    session.commit()
    return True


def responding_by(session: Session, item_ids: Sequence[int]) -> dict[int, date]:
    """Item id -> the association's deadline for members' views, for those of these items it
    is responding to."""
    responding: dict[int, date] = {}
    for start in range(0, len(item_ids), _CHUNK):
        chunk = list(item_ids[start : start + _CHUNK])
        for item_id, respond_by in session.execute(
            sa.select(_RESPONSES.c.item_id, _RESPONSES.c.respond_by).where(
                among(session, _RESPONSES.c.item_id, chunk)
            )
        ):
            responding[item_id] = respond_by
    return responding
