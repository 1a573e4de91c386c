"""What a member chooses besides their topics, in a module of its own: the command line offers
it without loading the database layer."""

from enum import StrEnum


class Frequency(StrEnum):
    WEEKLY = "weekly"
    DAILY = "daily"
    IMMEDIATE = "immediate"
