"""Staff accounts: argon2 password hashes, and logins rate-limited across processes."""

from datetime import datetime, timedelta

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlmodel import Session, col, select

from subscriptions.members import normalise_email
from subscriptions.models import LoginAttempt, StaffUser

# At most this many failed logins per address, and per client, in the window.
MAX_FAILURES = 5
FAILURE_WINDOW = timedelta(minutes=15)
MIN_PASSWORD_LENGTH = 12

_hasher = PasswordHasher()


class StaffError(ValueError):
    pass


class LoginRefused(Exception):
    """Wrong address or password (never saying which)."""


class LoginRateLimited(Exception):
    """Too many recent failures; the message says when to try again."""


def create_staff(session: Session, email: str, password: str, now: datetime) -> StaffUser:
    address = normalise_email(email)
    if len(password) < MIN_PASSWORD_LENGTH:
        raise StaffError(f"the password needs at least {MIN_PASSWORD_LENGTH} characters")
    if session.exec(select(StaffUser).where(StaffUser.email == address)).first():
        raise StaffError(f"a staff account for {address} already exists")
    staff = StaffUser(email=address, password_hash=_hasher.hash(password), created_at=now)
    session.add(staff)
    session.flush()
    return staff


def authenticate(
    session: Session, email: str, password: str, client: str, now: datetime
) -> StaffUser:
    """The staff member these credentials belong to; LoginRefused or LoginRateLimited if not."""
    address = email.strip().lower()
    keys = [f"email:{address}", f"client:{client}"]
    since = now - FAILURE_WINDOW
    failures = session.exec(
        select(LoginAttempt.key, sa.func.count())
        .where(col(LoginAttempt.key).in_(keys), LoginAttempt.at >= since)
        .group_by(col(LoginAttempt.key))
    ).all()
    if any(count >= MAX_FAILURES for _, count in failures):
        raise LoginRateLimited(
            f"too many failed attempts; try again in {FAILURE_WINDOW.seconds // 60} minutes"
        )
    staff = session.exec(select(StaffUser).where(StaffUser.email == address)).first()
    if staff is None or not _verify(staff.password_hash, password):
        session.add_all(LoginAttempt(key=key, at=now) for key in keys)
        session.flush()
        raise LoginRefused("wrong email address or password")
    staff.last_login_at = now
    return staff


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
