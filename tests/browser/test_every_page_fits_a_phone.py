"""Every console page at 375 px: no sideways scrolling. The pages are read from the app's
router, so a page added later is walked too; its path's ids come from the data seeded here."""

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from fastapi.routing import APIRoute
from playwright.sync_api import Page, expect
from sqlmodel import Session, select

from alerter.config import Settings
from alerter.models import Bulletin, Source
from alerter.web.app import create_app
from subscriptions.models import Member
from subscriptions.staff import create_staff
from tests.support.newsroom import weekly_run
from tests.support.web_forms import STAFF_PASSWORD as PASSWORD
from tests.web.test_staff_pages import NOW, stored_item

PHONE = {"width": 375, "height": 800}
STAFF = "ann@alfed.example"
# What is widest on the page when it overflows, to name in the failure.
WIDEST = """() => {
  const limit = document.documentElement.clientWidth;
  let widest = null, right = 0;
  for (const el of document.querySelectorAll("body *")) {
    const r = el.getBoundingClientRect().right;
    if (r > right) { right = r; widest = el; }
  }
  if (!widest || right <= limit) return "";
  const name = widest.tagName.toLowerCase() + (widest.id ? "#" + widest.id : "");
  return `${name} reaches ${Math.round(right)} px: ${widest.outerHTML.slice(0, 160)}`;
}"""


def get_paths(routes: list[Any], prefix: str = "") -> set[str]:
    """The GET paths among `routes`, into included routers (FastAPI keeps each as a route)."""
    paths = set()
    for route in routes:
        if isinstance(route, APIRoute) and "GET" in route.methods:
            paths.add(prefix + route.path)
        elif router := getattr(route, "original_router", None):
            paths |= get_paths(router.routes, prefix + route.include_context.prefix)
    return paths


def console_paths(settings: Settings, engine: sa.Engine) -> list[str]:
    """Every GET route under /staff but the CSV download, as the app's router lists them."""
    app = create_app(settings, engine)
    return sorted(
        path
        for path in get_paths(app.routes)
        if path.startswith("/staff") and not path.endswith(".csv")
    )


def seeded_ids(engine: sa.Engine) -> dict[str, str]:
    """A value for each id a console path may take, from a small installation's data."""
    # A long unbroken title and address: what pushes a narrow page sideways.
    item_id = stored_item(
        engine, "Aluminium-extrusion-anti-dumping-duties-consultation-response-deadline-extended"
    )
    with Session(engine) as session:
        weekly_run(session, ["sent", "failed"], planned_at=NOW, error="550 mailbox unavailable")
        session.add(
            Bulletin(
                subject="Steel safeguard: what members need to know this week",
                introduction="The Trade Remedies Authority published its findings.",
                item_ids=[item_id],
                topic_ids=["tariffs"],
                composed_by=STAFF,
                created_at=NOW,
                updated_at=NOW,
            )
        )
        session.commit()
        member = session.exec(select(Member)).first()
        source = session.exec(select(Source)).first()
        bulletin = session.exec(select(Bulletin)).first()
        assert member and source and bulletin
        return {
            "item_id": str(item_id),
            "member_id": str(member.id),
            "bulletin_id": str(bulletin.id),
            "source_id": str(source.id),
            "source_name": source.name,
            "topic_id": "tariffs",
            "kind": "digest-weekly",
            "period": "2026-W10",
        }


def filled(path: str, ids: dict[str, str]) -> str:
    missing = [name for name in re.findall(r"{(\w+)}", path) if name not in ids]
    assert not missing, f"{path}: no seeded value for {missing}; add one to seeded_ids"
    return re.sub(r"{(\w+)}", lambda m: ids[m.group(1)], path)


def test_every_console_page_fits_a_phone_screen(
    page: Page, settings: Settings, engine: sa.Engine, tmp_path: Path
) -> None:
    ids = seeded_ids(engine)
    with Session(engine) as session:
        create_staff(session, STAFF, PASSWORD, datetime.now(UTC))
        session.commit()
    page.set_viewport_size(PHONE)
    page.goto("/staff/login")
    overflowing = {}
    if widest := page.evaluate(WIDEST):
        overflowing["/staff/login"] = widest
    page.get_by_label("Email address").fill(STAFF)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Password").press("Enter")
    expect(page.locator("h1")).to_have_text("Items")

    walked: list[str] = []
    for path in console_paths(settings, engine):
        url = filled(path, ids)
        response = page.goto(url)
        assert response is not None
        if "text/html" not in response.headers.get("content-type", ""):
            continue
        walked.append(url)
        page.screenshot(path=tmp_path / f"{url.strip('/').replace('/', '_')}.png", full_page=True)
        scroll, client = page.evaluate(
            "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
        )
        if scroll > client:
            overflowing[url] = f"{scroll} px wide; " + page.evaluate(WIDEST)

    assert "/staff/items" in walked and "/staff/members/" + ids["member_id"] in walked
    assert not overflowing, "wider than a 375 px screen:\n" + "\n".join(
        f"{url}: {why}" for url, why in overflowing.items()
    )
