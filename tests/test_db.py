"""The database layer: on SQLite, readers never wait for a writer, a writer takes the lock at
its first write and waits for another's, and one that cannot get it says so."""

import logging
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

import alerter.db
from alerter.db import create_db_engine, migrate
from alerter.models import Source


def a_source(name: str) -> Source:
    return Source(name=name, kind="feed", url=f"https://news.example/{name}", publisher=name)


def source_names(engine: sa.Engine) -> list[str]:
    with Session(engine) as session:
        return sorted(session.exec(select(Source.name)))


def test_a_read_does_not_wait_while_another_connection_is_writing(engine: sa.Engine) -> None:
    with Session(engine) as writer:
        writer.add(a_source("DBT"))
        writer.flush()  # written, not committed: the writer holds SQLite's write lock

        with Session(engine) as reader:
            seen = list(reader.exec(select(Source.name)))
            reader.commit()
        writer.commit()

    assert seen == []  # what was committed when it read
    assert source_names(engine) == ["DBT"]


def test_a_writer_waits_for_another_writer_then_writes(engine: sa.Engine) -> None:
    second_done = threading.Event()

    def second_writer() -> None:
        with Session(engine) as session:
            session.add(a_source("CMF"))
            session.commit()
        second_done.set()

    with Session(engine) as first:
        first.add(a_source("DBT"))
        first.flush()
        thread = threading.Thread(target=second_writer)
        thread.start()
        second_done.wait(0.5)  # room for the second writer to start waiting, if it would
        first.commit()
    thread.join(timeout=60)

    assert second_done.is_set()
    assert source_names(engine) == ["CMF", "DBT"]


def test_a_transaction_that_read_before_another_committed_can_still_write(
    engine: sa.Engine,
) -> None:
    with Session(engine) as first:
        assert list(first.exec(select(Source.name))) == []
        with Session(engine) as second:
            second.add(a_source("CMF"))
            second.commit()
        first.add(a_source("DBT"))
        first.commit()  # SQLite refuses a read transaction's upgrade once another has written

    assert source_names(engine) == ["CMF", "DBT"]


def test_a_writer_that_cannot_get_the_lock_gives_up_saying_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(alerter.db, "SQLITE_BUSY_TIMEOUT_SECONDS", 0.05)
    monkeypatch.setattr(alerter.db, "WRITE_LOCK_PATIENCE_SECONDS", 0.2)
    engine = create_db_engine(f"sqlite:///{tmp_path / 'alerter.db'}")
    migrate(engine)
    with Session(engine) as holder:
        holder.add(a_source("DBT"))
        holder.flush()
        with Session(engine) as late, caplog.at_level(logging.WARNING, "alerter.db"):
            late.add(a_source("CMF"))
            with pytest.raises(sa.exc.OperationalError) as raised:
                late.commit()
        holder.commit()
    engine.dispose()

    assert "another process held the SQLite write lock" in str(raised.value)
    assert "waited" in caplog.text and "for the SQLite write lock" in caplog.text
