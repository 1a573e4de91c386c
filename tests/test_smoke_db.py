from sqlmodel import Session, select

from alerter.models import Source


def test_migrated_database_accepts_a_source(session: Session) -> None:
    session.add(Source(name="n", kind="feed", url="https://x.org/feed", publisher="X"))
    session.commit()
    assert session.exec(select(Source.name)).all() == ["n"]
