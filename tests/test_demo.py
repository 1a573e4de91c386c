"""`alerter demo`, run as a newcomer runs it: sample sources, members and digests, then the web
app answering. Each sample member's digest holds only items on their topics."""

import email
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from sqlmodel import Session, select

from alerter.db import create_db_engine
from alerter.demo import MEMBERS
from alerter.models import Item
from alerter.topics.labelling import topics_of
from tests.support.fake_web import free_port


def test_the_demo_sends_each_member_a_digest_of_their_topics_and_serves_the_app(
    tmp_path: Path,
) -> None:
    port = free_port()
    environment = {k: v for k, v in os.environ.items() if not k.startswith("ALERTER_")}
    demo = subprocess.Popen(
        [sys.executable, "-c", "from alerter.cli import app; app()", "demo", "--port", str(port)],
        cwd=tmp_path,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert demo.stdout is not None
        printed = ""
        deadline = time.monotonic() + 90
        while "worker running" not in printed and time.monotonic() < deadline:
            line = demo.stdout.readline()
            assert line or demo.poll() is None, printed
            printed += line
        manage_link = re.search(r"a member's page\s+(\S+)", printed).group(1)  # type: ignore[union-attr]
        answer = None
        while time.monotonic() < deadline:
            try:
                answer = httpx.get(manage_link)
                break
            except httpx.ConnectError:
                time.sleep(0.2)
        assert answer is not None and answer.status_code == 200
        assert "Your alerts" in answer.text
    finally:
        demo.send_signal(signal.SIGINT)
        demo.wait(timeout=30)

    folder = tmp_path / "alerter-demo"
    digests = [email.message_from_bytes(p.read_bytes()) for p in (folder / "outbox").glob("*.eml")]
    assert sorted(m["To"] for m in digests) == sorted(member.email for member in MEMBERS)
    engine = create_db_engine(f"sqlite:///{folder / 'alerter.db'}")
    with Session(engine) as session:
        for message in digests:
            member = next(m for m in MEMBERS if m.email == message["To"])
            text = next(p for p in message.walk() if p.get_content_type() == "text/plain")
            urls = re.findall(
                r"^  (http://127\.0\.0\.1:\d+/(?:government|alfed|cmf)\S*)\r?$",
                text.get_payload(decode=True).decode(),  # lines end in CRLF, as on the wire
                re.M,
            )
            assert urls, f"{member.email}'s digest lists no items"
            for url in urls:
                item = session.exec(select(Item).where(Item.url == url)).one()
                carried = {t.topic_id for t in topics_of(session, [item.id or 0])[item.id or 0]}
                assert carried & set(member.topics), f"{item.title} is not on {member.topics}"
    engine.dispose()
