"""A transport that looks at the database the moment an email goes: a web request that writes
and emails must have committed first, so that no lock is held while a mail service answers."""

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from alerter.delivery import Mailing, SendBatch, Transport


class SeenWhenSent:
    """Sends through `inner`; before each send, records what `look` finds through a connection
    of its own, which sees only what is committed."""

    def __init__(self, inner: Transport, engine: sa.Engine, look: Callable[[Session], Any]) -> None:
        self.inner = inner
        self.engine = engine
        self.look = look
        self.seen: list[Any] = []

    def send(self, mailing: Mailing, batch: SendBatch | None = None) -> None:
        with Session(self.engine) as session:
            self.seen.append(self.look(session))
        self.inner.send(mailing, batch)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)
