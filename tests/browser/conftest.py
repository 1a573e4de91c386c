"""Browser fixtures: the real app served by uvicorn on 127.0.0.1, and Debian's headless
Chromium driven by Playwright. Without /usr/bin/chromium the browser tests are skipped;
.ci/run installs it."""

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from playwright.sync_api import Browser, Page, sync_playwright

from alerter.config import Settings
from alerter.web.app import create_app
from tests.support.live_server import serving

CHROMIUM = Path("/usr/bin/chromium")
# What works on these machines; Playwright itself gives each launch a fresh, empty profile
# (it refuses --user-data-dir in `args`). Without the background-networking flags Chromium
# keeps calling out to Google's hosts, which this network refuses.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@dataclass(frozen=True)
class LiveApp:
    base_url: str
    outbox: Path


@pytest.fixture
def live_app(settings: Settings, engine: sa.Engine, tmp_path: Path) -> Iterator[LiveApp]:
    """The web app on a free port, with links in its emails pointing at that port."""
    outbox = tmp_path / "outbox"

    def make_app(base_url: str) -> FastAPI:
        update = {"outbox_dir": outbox, "secret_key": "browser test secret", "base_url": base_url}
        return create_app(settings.model_copy(update=update), engine)

    with serving(make_app) as base_url:
        yield LiveApp(base_url, outbox)


# Per test, not per session: while Playwright's sync API is running, its event loop counts as
# running in the main thread, and later tests that call asyncio.run() would fail.
@pytest.fixture
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.skip(
            f"{CHROMIUM} is missing: install Debian's chromium (`apt-get install chromium`), "
            "as .ci/run does, to run the browser tests"
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser, live_app: LiveApp) -> Iterator[Page]:
    """A tab in a fresh browser context (no cookies), opening paths on the live app."""
    context = browser.new_context(base_url=live_app.base_url)
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()
