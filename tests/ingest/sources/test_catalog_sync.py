from sqlmodel import Session, select

from alerter.ingest.sources.catalog import parse_declaration, sync_sources
from alerter.models import Source

DBT = {
    "name": "DBT",
    "kind": "feed",
    "url": "https://www.gov.uk/government/organisations/department-for-business-and-trade.atom",
    "publisher": "Department for Business and Trade",
    "poll_minutes": 30,
}


def sync(session: Session, *declarations: dict[str, object]) -> dict[str, Source]:
    sync_sources(session, [parse_declaration(d) for d in declarations])
    session.commit()
    return {row.name: row for row in session.exec(select(Source))}


def test_a_declared_source_is_created_with_its_options(session: Session) -> None:
    rows = sync(
        session,
        DBT,
        {
            "name": "CMF",
            "kind": "html",
            "url": "https://cmf.example/news/",
            "publisher": "CMF",
            "item_selector": "article",
            "title_selector": "h3",
            "link_selector": "h3 a",
        },
    )

    assert rows["DBT"].poll_minutes == 30 and rows["DBT"].enabled
    assert rows["CMF"].options == {
        "item_selector": "article",
        "title_selector": "h3",
        "link_selector": "h3 a",
    }


def test_an_edit_made_elsewhere_survives_until_the_files_entry_changes(session: Session) -> None:
    sync(session, DBT)
    row = session.exec(select(Source)).one()
    row.poll_minutes = 15  # as staff would from the web
    session.commit()

    after_same_file = sync(session, DBT)["DBT"].poll_minutes
    after_changed_file = sync(session, {**DBT, "poll_minutes": 45})["DBT"].poll_minutes

    assert (after_same_file, after_changed_file) == (15, 45)


def test_a_new_url_forgets_the_old_urls_validators(session: Session) -> None:
    sync(session, DBT)
    row = session.exec(select(Source)).one()
    row.etag, row.last_modified = '"v9"', "Wed, 04 Feb 2026 10:00:00 GMT"
    session.commit()

    rows = sync(session, {**DBT, "url": "https://www.gov.uk/government/organisations/dbt.atom"})

    assert (rows["DBT"].etag, rows["DBT"].last_modified) == (None, None)


def test_a_source_removed_from_the_file_is_disabled_not_deleted(session: Session) -> None:
    sync(session, DBT)

    enabled_after_removal = sync(session)["DBT"].enabled
    enabled_after_return = sync(session, DBT)["DBT"].enabled

    assert (enabled_after_removal, enabled_after_return) == (False, True)


def test_a_source_added_by_staff_is_left_alone_by_the_file(session: Session) -> None:
    session.add(
        Source(name="Staff added", kind="feed", url="https://x.example/feed", publisher="X")
    )
    session.commit()

    rows = sync(session, DBT)

    assert rows["Staff added"].enabled is True
