"""Staff alerts: one email per problem staff should hear of, linking to the console page that
shows it. Pure."""

from dataclasses import dataclass

from alerter.config import Settings
from alerter.delivery.message import Email
from alerter.render import render


@dataclass(frozen=True)
class Problem:
    key: str  # what it is about: one alert per key while it lasts
    subject: str
    details: tuple[str, ...]
    console_path: str = "/staff/sources"  # the staff page that shows it


def staff_alert_email(settings: Settings, problem: Problem, to: str) -> Email:
    context = {
        "problem": problem,
        "console_url": f"{settings.base_url.rstrip('/')}{problem.console_path}",
    }
    return Email(
        to=to,
        subject=f"alerter: {problem.subject}",
        text=render("email/staff_alert.txt", **context),
        html=render("email/staff_alert.html", **context),
        kind="staff-alert",
    )
