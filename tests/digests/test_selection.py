from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

from alerter.config import DEFAULT_TOPICS_FILE
from alerter.digests.selection import DigestItem, build_digest
from alerter.topics.taxonomy import load_taxonomy

TAXONOMY = load_taxonomy(DEFAULT_TOPICS_FILE)
MONDAY = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)


def item(
    n: int, topics: dict[str, float], hours_ago: int = 0, publishers: tuple[str, ...] = ("DBT",)
) -> DigestItem:
    return DigestItem(
        n,
        f"Item {n}",
        "",
        f"https://news.example/{n}",
        MONDAY - timedelta(hours=hours_ago),
        MONDAY - timedelta(hours=hours_ago),
        publishers,
        topics,
    )


def test_only_items_on_the_members_topics_are_included() -> None:
    digest = build_digest(
        [item(1, {"tariffs": 3}), item(2, {"events": 3})], ["tariffs"], TAXONOMY, now=MONDAY
    )

    assert [e.item.item_id for s in digest.sections for e in s.entries] == [1]


def test_an_item_appears_once_under_its_strongest_followed_topic_with_the_rest_as_tags() -> None:
    cbam = item(1, {"tariffs": 6, "net-zero": 3, "consultations": 9})

    digest = build_digest([cbam], ["tariffs", "net-zero"], TAXONOMY, now=MONDAY)

    [section] = digest.sections
    assert section.topic_id == "tariffs"
    assert section.entries[0].tags == ("Net zero and decarbonisation", "Consultations")


def test_sections_follow_the_taxonomy_and_items_run_newest_first() -> None:
    items = [
        item(1, {"events": 3}, hours_ago=5),
        item(2, {"tariffs": 3}, hours_ago=9),
        item(3, {"events": 3}, hours_ago=1),
    ]

    digest = build_digest(items, ["events", "tariffs"], TAXONOMY, now=MONDAY)

    assert [s.topic_id for s in digest.sections] == ["tariffs", "events"]
    assert [e.item.item_id for e in digest.sections[1].entries] == [3, 1]


def test_the_cap_keeps_the_newest_and_counts_the_rest() -> None:
    items = [item(n, {"tariffs": 3}, hours_ago=n) for n in range(35)]

    digest = build_digest(items, ["tariffs"], TAXONOMY, now=MONDAY, cap=30)

    assert digest.count == 30 and digest.more == 5
    assert digest.sections[0].entries[-1].item.item_id == 29


def test_nothing_matching_gives_an_empty_digest_that_names_the_followed_topics() -> None:
    digest = build_digest([item(1, {"events": 3})], ["skills", "tariffs"], TAXONOMY, now=MONDAY)

    assert digest.empty
    assert digest.followed == ("Tariffs and trade remedies", "Skills and workforce")


def test_items_closing_soon_come_first_in_their_topic_soonest_first() -> None:
    news = item(1, {"tariffs": 3})
    later = replace(item(2, {"tariffs": 3}, hours_ago=5), closes=MONDAY + timedelta(days=10))
    sooner = replace(item(3, {"tariffs": 3}, hours_ago=9), closes=MONDAY + timedelta(days=3))
    distant = replace(item(4, {"tariffs": 3}, hours_ago=2), closes=MONDAY + timedelta(days=60))

    digest = build_digest([news, later, sooner, distant], ["tariffs"], TAXONOMY, now=MONDAY)

    assert [e.item.item_id for e in digest.sections[0].entries] == [3, 2, 1, 4]


def test_an_entry_says_when_its_item_closes_and_whether_the_association_responds() -> None:
    consultation = replace(
        item(1, {"tariffs": 3}),
        closes=datetime(2026, 3, 11, 23, 59, tzinfo=UTC),
        responding_by=date(2026, 3, 6),
    )

    entry = build_digest([consultation], ["tariffs"], TAXONOMY, now=MONDAY).sections[0].entries[0]

    assert entry.deadline == "closes Wed 11 Mar — 9 days left"
    assert entry.responding == "The association is responding: send us your views by Fri 6 Mar"
