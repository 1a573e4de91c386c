"""Recognising one story re-posted by another source under a near-identical headline."""

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache

# Re-posts within this time of each other are candidates for the same story.
STORY_WINDOW = timedelta(days=3)
# Share of distinct headline words two titles must have in common (Jaccard similarity).
SIMILARITY = 0.85
# Shorter headlines ("News", "Events update") are too generic to match on words alone.
MIN_WORDS = 4


def _numbers(words: frozenset[str]) -> frozenset[str]:
    return frozenset(word for word in words if word[0].isdigit())


@dataclass(frozen=True)
class Headline:
    item_id: int
    source_id: int
    words: frozenset[str]
    published: datetime
    numbers: frozenset[str] = field(init=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "numbers", _numbers(self.words))


def near_identical(a: frozenset[str], b: frozenset[str]) -> bool:
    """Whether two headlines' words say the same thing.

    Numbers must agree exactly: "notice 2024/06" and "notice 2024/07" are different notices.
    """
    return _similar(a, _numbers(a), b, _numbers(b))


def _similar(
    a: frozenset[str], a_numbers: frozenset[str], b: frozenset[str], b_numbers: frozenset[str]
) -> bool:
    shorter, longer = sorted((len(a), len(b)))
    if shorter < MIN_WORDS or shorter < SIMILARITY * longer:  # too different in length already
        return False
    return a_numbers == b_numbers and len(a & b) >= SIMILARITY * len(a | b)


@lru_cache(maxsize=4096)  # a new headline is looked up, then added: its keys serve both
def _keys(words: frozenset[str]) -> tuple[frozenset[str], ...]:
    return (words, *(words - {word} for word in words))


# Loads the stored headlines published within [start, end).
HeadlineLoader = Callable[[datetime, datetime], Iterable[Headline]]


class StoryIndex:
    """Headlines seen in a poll cycle plus those loaded from the database, by day.

    Headlines are indexed under their set of words and under each set with one word left out,
    so a lookup finds, in a few dictionary probes, every headline with the same words give or
    take one (one added, dropped or swapped); each is then checked with `near_identical`.
    """

    def __init__(self, loader: HeadlineLoader) -> None:
        self._loader = loader
        self._loaded_days: set[date] = set()
        self._ready_days: set[date] = set()  # days whose whole window has been loaded
        self._postings: defaultdict[frozenset[str], list[Headline]] = defaultdict(list)
        self._known: set[int] = set()

    def add(self, headline: Headline) -> None:
        if headline.item_id in self._known or len(headline.words) < MIN_WORDS:
            return
        self._known.add(headline.item_id)
        for key in _keys(headline.words):
            self._postings[key].append(headline)

    def find(self, words: frozenset[str], published: datetime, source_id: int) -> int | None:
        """The item id of another source's near-identical headline within the window, if any."""
        if len(words) < MIN_WORDS:
            return None
        self._load_around(published)
        numbers = _numbers(words)
        for key in _keys(words):
            for candidate in self._postings.get(key, ()):
                if (
                    candidate.source_id != source_id
                    and abs(candidate.published - published) <= STORY_WINDOW
                    and _similar(words, numbers, candidate.words, candidate.numbers)
                ):
                    return candidate.item_id
        return None

    def _load_around(self, moment: datetime) -> None:
        if moment.date() in self._ready_days:  # its whole window is loaded already
            return
        first = (moment - STORY_WINDOW).date()
        days = [first + timedelta(days=n) for n in range(STORY_WINDOW.days * 2 + 2)]
        missing = [day for day in days if day not in self._loaded_days]
        if not missing:
            self._ready_days.add(moment.date())
            return
        start = datetime.combine(missing[0], datetime.min.time(), tzinfo=moment.tzinfo)
        end = datetime.combine(
            missing[-1] + timedelta(days=1), datetime.min.time(), tzinfo=moment.tzinfo
        )
        for headline in self._loader(start, end):
            self.add(headline)
        self._loaded_days.update(
            missing[0] + timedelta(days=n) for n in range((missing[-1] - missing[0]).days + 1)
        )
        self._ready_days.add(moment.date())
