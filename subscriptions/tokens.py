"""Signed links for members: each bound to one purpose and one member, most of them expiring.

A manage token cannot unsubscribe anyone, a confirmation token cannot open the manage page, and
no member token is accepted anywhere staff log in. The member's address hash is signed in too,
so a link stops working for an erased member even if their row is reused."""

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer


class Purpose(StrEnum):
    CONFIRM = "confirm"
    MANAGE = "manage"
    UNSUBSCRIBE = "unsubscribe"


# How long each kind of link works. Unsubscribe links never expire: an old email must still be
# able to stop the mail, as RFC 8058 one-click unsubscribing expects.
LIFETIMES: dict[Purpose, timedelta | None] = {
    Purpose.CONFIRM: timedelta(days=7),
    Purpose.MANAGE: timedelta(days=30),
    Purpose.UNSUBSCRIBE: None,
}


class TokenExpired(Exception):
    """A genuine link, too old: the page offers to send a fresh one."""

    def __init__(self, member_id: int | None) -> None:
        super().__init__("this link has expired")
        self.member_id = member_id


class TokenInvalid(Exception):
    """Not a link alerter made for this purpose (tampered, truncated, or for something else)."""


@dataclass(frozen=True)
class TokenSubject:
    member_id: int
    email_hash: str


def _serializer(secret: str, purpose: Purpose) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt=f"alerter-member-{purpose}")


def make_token(secret: str, purpose: Purpose, subject: TokenSubject) -> str:
    token: str = _serializer(secret, purpose).dumps([subject.member_id, subject.email_hash[:16]])
    return token


def read_token(secret: str, purpose: Purpose, token: str) -> TokenSubject:
    """The member a token names; TokenExpired or TokenInvalid otherwise."""
    serializer = _serializer(secret, purpose)
    lifetime = LIFETIMES[purpose]
    try:
        member_id, hash_prefix = serializer.loads(
            token, max_age=int(lifetime.total_seconds()) if lifetime else None
        )
    except SignatureExpired as error:
        member_id = _member_of(error.payload, serializer)
        raise TokenExpired(member_id) from None
    except (BadSignature, ValueError, TypeError):
        raise TokenInvalid(
            "this link is not valid; it may have been cut short or altered"
        ) from None
    if not isinstance(member_id, int) or not isinstance(hash_prefix, str):
        raise TokenInvalid("this link is not valid")
    return TokenSubject(member_id, hash_prefix)


def _member_of(payload: object, serializer: URLSafeTimedSerializer) -> int | None:
    """The member id inside an expired token (its signature was checked before expiry was)."""
    if not isinstance(payload, bytes):
        return None
    try:
        member_id, _ = serializer.load_payload(payload)
    except (BadSignature, ValueError, TypeError):
        return None
    return member_id if isinstance(member_id, int) else None


def matches(subject: TokenSubject, member_email_hash: str) -> bool:
    return member_email_hash.startswith(subject.email_hash)
