import itertools
from datetime import UTC, datetime, timedelta

import pytest

from alerter.ingest import stories
from alerter.ingest.clean import title_words
from alerter.ingest.stories import Headline, StoryIndex, near_identical

MONDAY = datetime(2026, 2, 2, 9, 0, tzinfo=UTC)


def words(title: str) -> frozenset[str]:
    return frozenset(title_words(title))


def test_a_repost_with_a_label_and_different_punctuation_is_near_identical() -> None:
    assert near_identical(
        words("Press release: UK and US sign critical minerals memorandum of understanding"),
        words("UK and US sign Critical Minerals Memorandum of Understanding."),
    )


def test_one_extra_word_in_a_long_headline_is_still_the_same_story() -> None:
    assert near_identical(
        words("Government confirms steel safeguard measures extended for further period"),
        words("Government formally confirms steel safeguard measures extended for further period"),
    )


def test_notices_that_differ_only_in_their_number_are_different_stories() -> None:
    assert not near_identical(
        words("Trade remedies notice 2024/06: safeguard measure tariff-rate quota on steel goods"),
        words("Trade remedies notice 2024/07: safeguard measure tariff-rate quota on steel goods"),
    )


def test_a_number_present_in_only_one_headline_makes_them_different_stories() -> None:
    assert not near_identical(
        words("Government confirms steel safeguard extension for two more years from July"),
        words("Government confirms steel safeguard extension for two more years from July 2026"),
    )


def test_headlines_that_differ_in_a_key_word_are_different_stories() -> None:
    assert not near_identical(
        words("Consultation on aluminium scrap exports opens"),
        words("Consultation on aluminium scrap exports closes"),
    )


def test_short_generic_headlines_never_match() -> None:
    assert not near_identical(words("Latest news"), words("Latest news"))


def index_with(*headlines: Headline) -> StoryIndex:
    return StoryIndex(lambda start, end: [h for h in headlines if start <= h.published < end])


def test_index_finds_another_sources_repost_within_three_days() -> None:
    original = Headline(7, 1, words("UK and Japan agree new steel trade partnership"), MONDAY)
    index = index_with(original)

    found = index.find(
        words("UK and Japan agree new steel trade partnership"), MONDAY + timedelta(days=2), 2
    )

    assert found == 7


def test_index_ignores_reposts_older_than_three_days() -> None:
    original = Headline(7, 1, words("UK and Japan agree new steel trade partnership"), MONDAY)
    index = index_with(original)

    found = index.find(
        words("UK and Japan agree new steel trade partnership"), MONDAY + timedelta(days=4), 2
    )

    assert found is None


def test_index_does_not_merge_two_items_of_the_same_source() -> None:
    original = Headline(7, 1, words("UK and Japan agree new steel trade partnership"), MONDAY)
    index = index_with(original)

    assert index.find(words("UK and Japan agree new steel trade partnership"), MONDAY, 1) is None


def test_index_sees_headlines_added_during_the_cycle() -> None:
    index = index_with()
    index.add(Headline(9, 3, words("Aluminium recycling fund opens for applications"), MONDAY))

    assert index.find(words("Aluminium Recycling Fund opens for applications"), MONDAY, 4) == 9


def test_matching_a_headline_costs_the_same_however_many_stored_ones_share_its_common_words(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    compared: list[tuple[object, ...]] = []
    similar = stories._similar

    def counted(*args: frozenset[str]) -> bool:
        compared.append(args)
        return similar(*args)

    monkeypatch.setattr(stories, "_similar", counted)
    repost = words("UK steel tariff quota review for copper wire imports")
    # Made-up product names, two to a headline: 2,000 distinct headlines.
    names = ["".join(letters) for letters in itertools.product("bdfgk", "aeiou", "lmnrt")]

    def compared_with(stored: int) -> tuple[int | None, int]:
        # Every stored headline shares "UK", "steel", "tariff", "quota", "review", "for" and
        # "imports" with the new one, as real news shares common words; one is the same story.
        headlines = [
            Headline(n, 1, words(f"UK steel tariff quota review for {a} {b} imports"), MONDAY)
            for n, (a, b) in enumerate(itertools.islice(itertools.permutations(names, 2), stored))
        ]
        index = index_with(*headlines, Headline(stored, 1, repost, MONDAY))
        compared.clear()
        return index.find(repost, MONDAY, 2), len(compared)

    few, many = compared_with(10), compared_with(2_000)

    assert (few[0], many[0]) == (10, 2_000)
    assert many[1] == few[1]
