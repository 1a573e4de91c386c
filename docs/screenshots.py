"""Takes the README's screenshots in Debian's headless Chromium: a sample member's digest email
and their manage page, from the same sample data as `alerter demo`. Run from the repository
root (it needs /usr/bin/chromium, as the browser tests do):

    .venv/bin/python -m docs.screenshots
"""

import email
import socket
import tempfile
import threading
import time
from pathlib import Path

import uvicorn
from playwright.sync_api import sync_playwright

from alerter.db import get_engine
from alerter.demo import MEMBERS, prepare, run_demo
from alerter.web.app import create_app
from tests.browser.conftest import CHROMIUM, CHROMIUM_FLAGS

DOCS = Path(__file__).resolve().parent


def main() -> None:
    with tempfile.TemporaryDirectory() as folder, socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        port = listener.getsockname()[1]
        settings, news = prepare(Path(folder) / "demo", port, print)
        result = run_demo(settings, news, print)
        server = uvicorn.Server(
            uvicorn.Config(create_app(settings, get_engine()), log_level="warning")
        )
        threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True).start()
        while not server.started:
            time.sleep(0.05)
        digest = next(
            email.message_from_bytes(p.read_bytes())
            for p in result.outbox.glob("digest-weekly-*.eml")
            if MEMBERS[0].email.encode() in p.read_bytes()
        )
        html = next(p for p in digest.walk() if p.get_content_type() == "text/html")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
            page = browser.new_page(viewport={"width": 720, "height": 900})
            page.set_content(html.get_payload(decode=True).decode())
            page.screenshot(path=DOCS / "digest-email.png", full_page=True)
            page.goto(result.manage_link)
            page.screenshot(path=DOCS / "manage-page.png", full_page=True)
            browser.close()
        server.should_exit = True
    print(f"wrote {DOCS / 'digest-email.png'} and {DOCS / 'manage-page.png'}")


if __name__ == "__main__":
    main()
