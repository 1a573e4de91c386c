"""The ledger's emails about news to members (digests, bulletins, deadline reminders and
outcome alerts): sent only to members still subscribed when their turn comes, each with their
own greeting and links; the use case says which rows share an email and builds it."""

from collections.abc import Callable, Hashable, Iterable, Sequence

from sqlmodel import Session

from alerter.config import Settings
from alerter.delivery import Mailing
from alerter.delivery.compose.recipients import member_personalization
from alerter.ledger.sender import Built, Claimed, EmailBuilder, by_content
from subscriptions.members import Subscriber, active_subscribers


def member_emails(
    session: Session,
    settings: Settings,
    *,
    content: Callable[[Claimed, Subscriber], Hashable],
    mailing: Callable[[Claimed, Subscriber], Mailing | None],
) -> EmailBuilder:
    """An EmailBuilder for emails to active members (see ledger.sender.by_content)."""

    def build(rows: Sequence[Claimed]) -> Iterable[Built]:
        return by_content(
            rows,
            active_subscribers(session, [row.member_id for row in rows]),
            content=content,
            mailing=mailing,
            personalize=lambda row, member: member_personalization(
                settings, member, key=str(row.id), message_token=row.message_token
            ),
        )

    return build
