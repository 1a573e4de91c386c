import asyncio
import os
import signal

from alerter.config import DEFAULT_TOPICS_FILE
from alerter.ingest.parser_pool import ParserPool, PoolKeeper
from alerter.ingest.sources.base import Document, Entry, Record, SourceSpec
from alerter.topics.classifier import Classifier
from alerter.topics.examples import ExampleMatcher, LabelledExample
from alerter.topics.model import shipped_model
from alerter.topics.taxonomy import load_taxonomy
from tests.support.feeds import Story, rss

TAXONOMY = load_taxonomy(DEFAULT_TOPICS_FILE)
# The shipped classifier, learned model and all: the workers receive it whole.
CLASSIFIER = Classifier(TAXONOMY, shipped_model(TAXONOMY))
SPEC = SourceSpec(name="News", kind="feed", url="https://news.example/feed", publisher="News")
FEED = Document(
    "https://news.example/feed",
    rss([Story("Steel safeguard quota reopens", "https://news.example/q", guid="q")]),
)


def test_documents_are_parsed_and_classified_in_worker_processes() -> None:
    async def run() -> tuple[list[str], tuple[str, ...], set[int]]:
        async with ParserPool(2, CLASSIFIER) as pool:
            parsed = await pool.parse(FEED, SPEC)
            pids = set(pool._executor._processes) if pool._executor else set()  # type: ignore[attr-defined]
        [entry] = parsed.result.entries
        return [entry.title], parsed.classifications[entry.identity].topics, pids

    titles, topics, pids = asyncio.run(run())

    assert titles == ["Steel safeguard quota reopens"]
    assert topics == ("tariffs",)
    assert pids and os.getpid() not in pids


def test_entries_an_api_kind_collected_are_classified_in_worker_processes() -> None:
    question = Entry(
        identity="parliament:written-question:1",
        url="https://questions.example/1",
        title="Steel: Safeguard Measures",
        summary="Whether the steel safeguard tariff-rate quotas will be extended.",
        published=None,
        record=Record(external_id="parliament:written-question:1", status="unanswered"),
    )

    async def run() -> tuple[str, ...]:
        async with ParserPool(1, CLASSIFIER) as pool:
            classified = await pool.classify([question])
        return classified[question.identity].topics

    assert asyncio.run(run()) == ("tariffs",)


def test_a_killed_worker_does_not_lose_the_parse() -> None:
    async def run() -> list[str]:
        async with ParserPool(1, CLASSIFIER) as pool:
            await pool.parse(FEED, SPEC)
            for pid in list(pool._executor._processes):  # type: ignore[union-attr]
                os.kill(pid, signal.SIGKILL)
            await asyncio.sleep(0.2)
            parsed = await pool.parse(FEED, SPEC)
        return [entry.title for entry in parsed.result.entries]

    assert asyncio.run(run()) == ["Steel safeguard quota reopens"]


def test_the_keeper_reuses_its_warm_pool_across_event_loops_until_the_classifier_changes() -> None:
    keeper = PoolKeeper(1)
    try:
        first = keeper.pool_for(Classifier(load_taxonomy(DEFAULT_TOPICS_FILE)))
        titles = [asyncio.run(first.parse(FEED, SPEC)).result.entries[0].title for _ in range(2)]
        same = keeper.pool_for(Classifier(load_taxonomy(DEFAULT_TOPICS_FILE)))
        example = LabelledExample(1, "Quota news", "", frozenset({"events"}), frozenset())
        changed = keeper.pool_for(
            Classifier(load_taxonomy(DEFAULT_TOPICS_FILE), examples=ExampleMatcher([example]))
        )
        parsed = asyncio.run(changed.parse(FEED, SPEC))
    finally:
        keeper.close()

    assert titles == ["Steel safeguard quota reopens"] * 2  # two cycles, one pool
    assert same is first
    assert changed is not first  # a staff correction: the workers must know it
    assert parsed.result.entries[0].title == "Steel safeguard quota reopens"
