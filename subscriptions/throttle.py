"""Rate limits kept in the database, so that they hold across processes: each attempt at a
limited action is an `Attempt` row under the keys it counts against (the address it is for,
the client it came from)."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, col, delete, select

from subscriptions.models import Attempt

# Attempts older than this count against nothing and are deleted as new ones come in.
KEPT_FOR = timedelta(days=1)


@dataclass(frozen=True)
class Limit:
    """At most `most` attempts of `action` per key within `window`."""

    action: str
    most: int
    window: timedelta


SIGNUP = Limit("signup", most=3, window=timedelta(hours=1))
SIGNUP_PER_CLIENT = Limit("signup", most=20, window=timedelta(hours=1))
RESEND = Limit("resend", most=3, window=timedelta(hours=1))
RESEND_PER_CLIENT = Limit("resend", most=20, window=timedelta(hours=1))


class TooManyAttempts(Exception):
    """A limit is reached; the message says when to try again."""

    def __init__(self, retry_in: timedelta) -> None:
        self.retry_in = retry_in
        super().__init__(f"too many attempts; try again in {self.wait}")

    @property
    def wait(self) -> str:
        """How long until the next attempt counts, in whole minutes: "5 minutes"."""
        minutes = max(1, -(-int(self.retry_in.total_seconds()) // 60))
        return f"{minutes} minute{'s' if minutes > 1 else ''}"


def key(action: str, of: str, value: str) -> str:
    """An attempt's key: "signup-email:jo@foundry.example", "login-client:203.0.113.9"."""
    return f"{action}-{of}:{value}"


def attempts(session: Session, keys: Sequence[str], since: datetime) -> dict[str, list[datetime]]:
    """Each key's attempts after `since`, oldest first."""
    found: dict[str, list[datetime]] = {k: [] for k in keys}
    for attempt_key, at in session.exec(
        select(Attempt.key, Attempt.at)
        .where(col(Attempt.key).in_(keys), Attempt.at > since)
        .order_by(col(Attempt.at))
    ):
        found[attempt_key].append(at)
    return found


def record(session: Session, keys: Sequence[str], now: datetime) -> None:
    """One attempt under each key; attempts too old to count are cleared away."""
    session.exec(delete(Attempt).where(col(Attempt.at) < now - KEPT_FOR))
    session.add_all(Attempt(key=k, at=now) for k in keys)
    session.flush()


def throttle(session: Session, limits: Sequence[tuple[Limit, str, str]], now: datetime) -> None:
    """Count one attempt against each (limit, what it is per, its value), e.g. `(SIGNUP,
    "email", address)`; or raise TooManyAttempts, counting none, when one is already used up."""
    keys = [key(limit.action, of, value) for limit, of, value in limits]
    for (limit, _, _), limit_key in zip(limits, keys, strict=True):
        recent = attempts(session, [limit_key], now - limit.window)[limit_key]
        if len(recent) >= limit.most:
            raise TooManyAttempts(recent[len(recent) - limit.most] + limit.window - now)
    record(session, keys, now)
