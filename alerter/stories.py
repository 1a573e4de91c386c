"""Recognising one story re-posted by another source under a near-identical headline."""

import math
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

# Re-posts within this time of each other are candidates for the same story.
STORY_WINDOW = timedelta(days=3)
# Share of distinct headline words two titles must have in common (Jaccard similarity).
SIMILARITY = 0.85
# Shorter headlines ("News", "Events update") are too generic to match on words alone.
MIN_WORDS = 4


@dataclass(frozen=True)
class Headline:
    item_id: int
    source_id: int
    words: frozenset[str]
    published: datetime


def near_identical(a: frozenset[str], b: frozenset[str]) -> bool:
    """Whether two headlines' words say the same thing.

    Numbers must agree exactly: "notice 2024/06" and "notice 2024/07" are different notices.
    """
    if len(a) < MIN_WORDS or len(b) < MIN_WORDS:
        return False
    if {w for w in a if w[0].isdigit()} != {w for w in b if w[0].isdigit()}:
        return False
    return len(a & b) >= SIMILARITY * len(a | b)


# Loads the stored headlines published within [start, end).
HeadlineLoader = Callable[[datetime, datetime], Iterable[Headline]]


class StoryIndex:
    """Headlines seen in a poll cycle plus those loaded from the database, by day.

    Lookups use an inverted index of words: a headline that is near-identical to one with n words
    must contain at least one of any n - ceil(SIMILARITY * n) + 1 of its words, so only the
    postings of that many of its rarest words need to be compared.
    """

    def __init__(self, loader: HeadlineLoader) -> None:
        self._loader = loader
        self._loaded_days: set[date] = set()
        self._postings: defaultdict[str, list[Headline]] = defaultdict(list)
        self._known: set[int] = set()

    def add(self, headline: Headline) -> None:
        if headline.item_id in self._known or len(headline.words) < MIN_WORDS:
            return
        self._known.add(headline.item_id)
        for word in headline.words:
            self._postings[word].append(headline)

    def find(self, words: frozenset[str], published: datetime, source_id: int) -> int | None:
        """The item id of another source's near-identical headline within the window, if any."""
        if len(words) < MIN_WORDS:
            return None
        self._load_around(published)
        needed = len(words) - math.ceil(SIMILARITY * len(words)) + 1
        rarest = sorted(words, key=lambda word: len(self._postings.get(word, ())))[:needed]
        seen: set[int] = set()
        for word in rarest:
            for candidate in self._postings.get(word, ()):
                if candidate.item_id in seen or candidate.source_id == source_id:
                    continue
                seen.add(candidate.item_id)
                if abs(candidate.published - published) <= STORY_WINDOW and near_identical(
                    words, candidate.words
                ):
                    return candidate.item_id
        return None

    def _load_around(self, moment: datetime) -> None:
        first = (moment - STORY_WINDOW).date()
        days = [first + timedelta(days=n) for n in range(STORY_WINDOW.days * 2 + 2)]
        missing = [day for day in days if day not in self._loaded_days]
        if not missing:
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
