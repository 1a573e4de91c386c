from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session, col, select

import alerter.ingest.store
from alerter.ingest.sources.base import MAX_EXTERNAL_ID, Entry, Record
from alerter.ingest.store import MAX_SUMMARY, MAX_TITLE, list_items, store_entries, story_index
from alerter.models import Item, Sighting, Source

NOW = datetime(2026, 2, 4, 12, 0, tzinfo=UTC)


def add_source(session: Session, name: str) -> Source:
    source = Source(name=name, kind="feed", url=f"https://{name}.example/feed", publisher=name)
    session.add(source)
    session.commit()
    return source


def entry(
    title: str,
    url: str,
    *,
    identity: str | None = None,
    summary: str = "",
    published: datetime | None = NOW - timedelta(hours=2),
) -> Entry:
    return Entry(
        identity=identity or url, url=url, title=title, summary=summary, published=published
    )


def store(
    session: Session,
    source: Source,
    entries: list[Entry],
    *,
    now: datetime = NOW,
    backlog: bool = False,
) -> alerter.ingest.store.StoreResult:
    result = store_entries(
        session, source, entries, now=now, backlog=backlog, stories=story_index(session)
    )
    session.commit()
    return result


def items(session: Session) -> list[Item]:
    return list(session.exec(select(Item).order_by(col(Item.id))))


def test_new_entries_become_items_with_first_seen_time_and_hash(session: Session) -> None:
    dbt = add_source(session, "dbt")

    result = store(
        session, dbt, [entry("Steel safeguard review published", "https://gov.example/a")]
    )

    [item] = items(session)
    assert result.new_item_ids == [item.id]
    assert (item.title, item.url, item.first_seen_at) == (
        "Steel safeguard review published",
        "https://gov.example/a",
        NOW,
    )
    assert len(item.content_hash) == 64


def test_the_same_article_seen_again_changes_nothing(session: Session) -> None:
    dbt = add_source(session, "dbt")
    article = entry("Steel safeguard review published", "https://gov.example/a", summary="Text")
    store(session, dbt, [article])

    result = store(session, dbt, [article], now=NOW + timedelta(hours=1))

    assert (result.new_item_ids, result.updated_item_ids, result.unchanged) == ([], [], 1)
    assert items(session)[0].updated_at is None


def test_an_edited_article_is_updated_in_place_and_marked_updated(session: Session) -> None:
    dbt = add_source(session, "dbt")
    store(
        session,
        dbt,
        [entry("Steel safeguard review publishd", "https://gov.example/a", identity="g1")],
    )
    later = NOW + timedelta(hours=3)

    result = store(
        session,
        dbt,
        [entry("Steel safeguard review published", "https://gov.example/a", identity="g1")],
        now=later,
    )

    [item] = items(session)
    assert result.updated_item_ids == [item.id]
    assert item.title == "Steel safeguard review published"
    assert item.updated_at == later


def test_guid_is_the_identity_even_when_the_link_changes(session: Session) -> None:
    alfed = add_source(session, "alfed")
    store(
        session, alfed, [entry("ALFED annual lunch", "https://alfed.example/lunch", identity="p=7")]
    )

    store(
        session,
        alfed,
        [entry("ALFED annual lunch", "https://alfed.example/lunch-2", identity="p=7")],
    )

    assert len(items(session)) == 1


def test_the_same_url_from_two_sources_is_one_story_with_both_sources(session: Session) -> None:
    dbt, search = add_source(session, "dbt"), add_source(session, "search")
    store(session, dbt, [entry("UK and US sign minerals pact", "https://gov.example/mou")])

    result = store(
        session, search, [entry("UK and US sign minerals pact", "https://gov.example/mou")]
    )

    assert result.merged == 1 and result.new_item_ids == []
    [listed] = list_items(session)
    assert listed.sources == ["dbt", "search"]


def test_a_near_identical_title_from_another_source_within_three_days_is_one_story(
    session: Session,
) -> None:
    dbt, alfed = add_source(session, "dbt"), add_source(session, "alfed")
    store(
        session,
        dbt,
        [entry("Press release: UK and US sign critical minerals MoU", "https://gov.example/mou")],
    )

    result = store(
        session,
        alfed,
        [
            entry(
                "UK and US sign Critical Minerals MoU.",
                "https://alfed.example/uk-us-mou",
                published=NOW + timedelta(days=1),
            )
        ],
        now=NOW + timedelta(days=1),
    )

    assert result.merged == 1
    assert len(items(session)) == 1
    assert session.exec(select(Sighting.url).where(Sighting.source_id == alfed.id)).all() == [
        "https://alfed.example/uk-us-mou"
    ]


def test_a_similar_title_more_than_three_days_later_is_a_new_story(session: Session) -> None:
    dbt, alfed = add_source(session, "dbt"), add_source(session, "alfed")
    store(session, dbt, [entry("UK and US sign critical minerals MoU", "https://gov.example/mou")])

    store(
        session,
        alfed,
        [
            entry(
                "UK and US sign critical minerals MoU",
                "https://alfed.example/m",
                published=NOW + timedelta(days=5),
            )
        ],
        now=NOW + timedelta(days=5),
    )

    assert len(items(session)) == 2


def test_backlog_items_are_marked(session: Session) -> None:
    cmf = add_source(session, "cmf")

    store(session, cmf, [entry("CMF member day", "https://cmf.example/day")], backlog=True)

    assert items(session)[0].backlog is True


def test_a_date_in_the_future_is_replaced_by_the_first_seen_time(session: Session) -> None:
    cmf = add_source(session, "cmf")

    store(
        session,
        cmf,
        [
            entry(
                "CMF awards dinner",
                "https://cmf.example/awards",
                published=datetime(2031, 1, 1, tzinfo=UTC),
            )
        ],
    )

    assert items(session)[0].published_at == NOW


def test_one_article_listed_under_two_guids_is_stored_once(session: Session) -> None:
    cmf = add_source(session, "cmf")

    result = store(
        session,
        cmf,
        [
            entry("Foundry energy costs survey", "https://cmf.example/survey", identity="a"),
            entry("Foundry energy costs survey", "https://cmf.example/survey", identity="b"),
        ],
    )

    assert len(result.new_item_ids) == 1
    assert len(session.exec(select(Sighting)).all()) == 2


def test_a_concurrent_insert_of_the_same_url_is_retried_not_lost(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    if session.get_bind().dialect.name == "sqlite":
        pytest.skip("SQLite serialises writers, so two pollers cannot race between read and insert")
    dbt, other = add_source(session, "dbt"), add_source(session, "other")
    # Another poller stores the story between our lookup by URL and our insert.
    real_lookup = alerter.ingest.store._items_by_url
    calls = []

    def racing_lookup(s: Session, urls: list[str]) -> dict[str, Item]:
        found = real_lookup(s, urls)
        if not calls:
            calls.append(1)
            with Session(s.get_bind()) as rival:
                store(rival, other, [entry("Steel quota update", "https://gov.example/quota")])
        return found

    monkeypatch.setattr(alerter.ingest.store, "_items_by_url", racing_lookup)

    result = store(session, dbt, [entry("Steel quota update", "https://gov.example/quota")])

    assert result.merged == 1
    assert len(items(session)) == 1


# Publishers' records: an item per record, updated in place


def consultation(
    *,
    closes: datetime = NOW + timedelta(days=30),
    status: str = "open",
    revision: str | None = "r1",
    title: str = "Consultation on scrap metal dealer licensing",
    url: str = "https://gov.example/consultations/scrap",
    outcome_at: datetime | None = None,
) -> Entry:
    return Entry(
        identity="govuk:/consultations/scrap",
        url=url,
        title=title,
        summary="Views sought on licensing scrap metal dealers.",
        published=NOW - timedelta(days=1),
        metadata={"how_to_respond": {"email": "scrap@gov.example"}},
        record=Record(
            external_id="govuk:/consultations/scrap",
            revision=revision,
            document_type="consultation",
            status=status,
            opens_at=NOW - timedelta(days=1),
            closes_at=closes,
            outcome_at=outcome_at,
        ),
    )


def test_a_record_is_stored_with_its_dates_type_and_status(session: Session) -> None:
    govuk = add_source(session, "govuk")

    store(session, govuk, [consultation()])

    [item] = items(session)
    assert (item.external_id, item.revision, item.document_type, item.status) == (
        "govuk:/consultations/scrap",
        "r1",
        "consultation",
        "open",
    )
    assert (item.opens_at, item.closes_at, item.outcome_at) == (
        NOW - timedelta(days=1),
        NOW + timedelta(days=30),
        None,
    )


def test_a_moved_closing_date_updates_the_item_in_place(session: Session) -> None:
    govuk = add_source(session, "govuk")
    store(session, govuk, [consultation()])
    later = NOW + timedelta(days=3)

    result = store(
        session, govuk, [consultation(closes=NOW + timedelta(days=44), revision="r2")], now=later
    )

    [item] = items(session)
    assert result.updated_item_ids == [item.id]
    assert (item.closes_at, item.revision, item.updated_at) == (
        NOW + timedelta(days=44),
        "r2",
        later,
    )


def test_an_outcome_updates_the_same_item(session: Session) -> None:
    govuk = add_source(session, "govuk")
    store(session, govuk, [consultation()])
    published = NOW + timedelta(days=60)

    result = store(
        session,
        govuk,
        [consultation(status="outcome", outcome_at=published, revision="r3")],
        now=published,
    )

    [item] = items(session)
    assert result.updated_item_ids == [item.id]
    assert (item.status, item.outcome_at) == ("outcome", published)


def test_a_new_revision_alone_is_kept_without_marking_the_item_updated(session: Session) -> None:
    govuk = add_source(session, "govuk")
    store(session, govuk, [consultation()])

    result = store(session, govuk, [consultation(revision=None)])

    [item] = items(session)
    assert (result.updated_item_ids, result.unchanged) == ([], 1)
    assert (item.revision, item.updated_at) == (None, None)


def test_a_record_adopts_the_news_item_another_source_stored_at_its_url(
    session: Session,
) -> None:
    feed, govuk = add_source(session, "feed"), add_source(session, "govuk")
    store(
        session,
        feed,
        [entry("Scrap metal dealer licensing", "https://gov.example/consultations/scrap")],
    )

    result = store(session, govuk, [consultation()], now=NOW + timedelta(hours=1))

    [item] = items(session)
    assert result.updated_item_ids == [item.id]
    assert (item.external_id, item.closes_at) == (
        "govuk:/consultations/scrap",
        NOW + timedelta(days=30),
    )
    assert item.title == "Consultation on scrap metal dealer licensing"
    assert list_items(session)[0].sources == ["feed", "govuk"]


def test_once_a_record_describes_an_item_the_news_source_no_longer_edits_it(
    session: Session,
) -> None:
    feed, govuk = add_source(session, "feed"), add_source(session, "govuk")
    url = "https://gov.example/consultations/scrap"
    store(session, feed, [entry("Scrap metal dealer licensing", url)])
    store(session, govuk, [consultation()])

    result = store(session, feed, [entry("Scrap metal licensing: have your say", url)])

    assert result.updated_item_ids == []
    assert items(session)[0].title == "Consultation on scrap metal dealer licensing"


def test_a_record_found_by_another_source_updates_the_item_by_its_external_id(
    session: Session,
) -> None:
    steel, aluminium = add_source(session, "steel"), add_source(session, "aluminium")
    store(session, steel, [consultation()])

    result = store(
        session, aluminium, [consultation(closes=NOW + timedelta(days=40), revision="r2")]
    )

    [item] = items(session)
    assert result.updated_item_ids == [item.id]
    assert item.closes_at == NOW + timedelta(days=40)
    assert list_items(session)[0].sources == ["steel", "aluminium"]


def test_a_record_is_never_merged_into_a_similar_headline(session: Session) -> None:
    feed, govuk = add_source(session, "feed"), add_source(session, "govuk")
    store(
        session,
        feed,
        [entry("Consultation on scrap metal dealer licensing", "https://news.example/scrap")],
    )

    result = store(session, govuk, [consultation()])

    assert len(result.new_item_ids) == 1
    assert len(items(session)) == 2


def test_stored_revisions_names_the_stored_records_only(session: Session) -> None:
    govuk = add_source(session, "govuk")
    store(session, govuk, [consultation()])

    assert alerter.ingest.store.stored_revisions(
        session, ["govuk:/consultations/scrap", "govuk:/consultations/other"]
    ) == {"govuk:/consultations/scrap": "r1"}


def test_a_percent_or_underscore_in_a_search_is_that_character_not_a_wildcard(
    session: Session,
) -> None:
    source = add_source(session, "dbt")
    store(
        session,
        source,
        [
            entry("Tariff cut of 50% on aluminium", "https://dbt.example/1"),
            entry("Tariff cut of 50 points on aluminium", "https://dbt.example/2"),
            entry("Guidance for steel_wire codes", "https://dbt.example/3"),
            entry("Guidance for steel-wire codes", "https://dbt.example/4"),
        ],
    )

    assert [s.item.title for s in list_items(session, text="50%")] == [
        "Tariff cut of 50% on aluminium"
    ]
    assert [s.item.title for s in list_items(session, text="steel_wire")] == [
        "Guidance for steel_wire codes"
    ]


def test_the_item_table_keeps_external_ids_as_long_as_the_kinds_may_make_them() -> None:
    assert Item.__table__.c.external_id.type.length == MAX_EXTERNAL_ID  # type: ignore[attr-defined]


def test_an_absurdly_long_title_and_summary_are_stored_capped_with_a_warning(
    session: Session,
) -> None:
    dbt = add_source(session, "dbt")
    huge = entry(
        "Anti-dumping duties on aluminium extrusions " * 25_000,  # 1.1 MB
        "https://gov.example/huge",
        summary="Duties apply from 1 March. " * 1_000,
    )

    result = store(session, dbt, [huge, entry("Steel quota reopens", "https://gov.example/q")])

    first, second = items(session)
    assert len(first.title) <= MAX_TITLE and first.title.endswith(" aluminium…")
    assert len(first.summary) <= MAX_SUMMARY and first.summary.endswith("March.…")
    assert second.title == "Steel quota reopens"
    assert result.warnings == [
        "1 title was longer than 300 characters and cut short, the first of "
        "https://gov.example/huge: “Anti-dumping duties on aluminium extrusions Anti-dumping "
        "duties on aluminium…”",
        "1 summary was longer than 1,000 characters and cut short, the first of "
        "https://gov.example/huge: “Anti-dumping duties on aluminium extrusions Anti-dumping "
        "duties on aluminium…”",
    ]


def test_the_same_long_title_polled_again_is_unchanged_not_an_edit(session: Session) -> None:
    dbt = add_source(session, "dbt")
    huge = entry("Duties on extrusions " * 50_000, "https://gov.example/huge")
    store(session, dbt, [huge])

    again = store(session, dbt, [huge], now=NOW + timedelta(hours=1))

    assert (again.unchanged, again.updated_item_ids) == (1, [])


def test_bidi_and_zero_width_characters_are_stripped_from_every_stored_text(
    session: Session,
) -> None:
    govuk = add_source(session, "govuk")
    tricky = replace(
        consultation(title="Consultation on \u202escrap\u202c metal\u200b dealer\ufeff licensing"),
        summary="Views\u2066 sought\u2069 on licensing.",
        metadata={"how_to_respond": {"email": "scrap@gov.example\u200d"}, "tags": ["a\u202db"]},
        record=replace(consultation().record, status="open\u200b"),  # type: ignore[arg-type]
    )

    store(session, govuk, [tricky])

    [item] = items(session)
    assert item.title == "Consultation on scrap metal dealer licensing"
    assert item.summary == "Views sought on licensing."
    assert item.source_metadata == {
        "how_to_respond": {"email": "scrap@gov.example"},
        "tags": ["ab"],
    }
    assert item.status == "open"
