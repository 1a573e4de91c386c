"""What a member chooses besides their topics, in a module of its own: the command line offers
it without loading the database layer."""

from enum import StrEnum


class Frequency(StrEnum):
    WEEKLY = "weekly"
    DAILY = "daily"
    IMMEDIATE = "immediate"


class StaffRole(StrEnum):
    """What a staff account may do; each role may do everything the ones after it may."""

    ADMIN = "admin"  # staff accounts, settings, sources, topics
    EDITOR = "editor"  # items, corrections, bulletins, members
    VIEWER = "viewer"  # reads every page, changes nothing

    def allows(self, needed: "StaffRole") -> bool:
        order = list(StaffRole)
        return order.index(self) <= order.index(needed)
