"""Deadline reminders and outcome alerts from the item they are about, with tags for each
recipient's greeting and links. Pure."""

from dataclasses import dataclass

from alerter.delivery.compose.recipients import tags
from alerter.delivery.message import Mailing
from alerter.render import render

REMINDER = "deadline-reminder"
OUTCOME = "outcome"


@dataclass(frozen=True)
class DeadlineItem:
    """An item as a reminder or an outcome alert tells of it."""

    title: str
    url: str
    summary: str
    deadline: str  # "closes Fri 15 Jan — 2 days left"
    responding: str  # the association's own deadline, or ""
    how_to_respond: dict[str, str]
    outcome: str  # the published outcome's text, or ""
    topics: tuple[str, ...]  # labels


def reminder_mailing(about: DeadlineItem, step: int) -> Mailing:
    """The reminder, `step` days before the item closes."""
    subject = f"{about.deadline[:1].upper()}{about.deadline[1:]}: {about.title}"[:200]
    context = {"item": about, "step": step, "preheader": about.deadline}
    tagged = tags()
    return Mailing(
        subject,
        render("email/reminder.txt", **context, **tagged["text"]),
        render("email/reminder.html", **context, **tagged["html"]),
        REMINDER,
        (),
    )


def outcome_mailing(about: DeadlineItem) -> Mailing:
    """The alert that the item's outcome or government response is out."""
    context = {"item": about, "preheader": f"The outcome of {about.title} is out"[:140]}
    tagged = tags()
    return Mailing(
        f"Outcome published: {about.title}"[:200],
        render("email/outcome.txt", **context, **tagged["text"]),
        render("email/outcome.html", **context, **tagged["html"]),
        OUTCOME,
        (),
    )
