"""Headers on every response and the request-size limit, through the app."""

import contextlib
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import Session

from alerter.config import Settings
from alerter.web.app import MAX_FORM_BYTES, create_app
from subscriptions.staff import create_staff
from tests.support.live_server import serving
from tests.support.web_forms import STAFF_EMAIL, STAFF_PASSWORD, csrf, sign_in

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def client(settings: Settings, engine: sa.Engine, tmp_path: Path) -> Iterator[TestClient]:
    with Session(engine) as session:
        create_staff(session, STAFF_EMAIL, STAFF_PASSWORD, NOW)
        session.commit()
    app_settings = settings.model_copy(
        update={
            "outbox_dir": tmp_path / "outbox",
            "secret_key": "s",
            "base_url": "http://testserver",
        }
    )
    with TestClient(create_app(app_settings, engine)) as test_client:
        yield test_client


@pytest.mark.parametrize("path", ["/signup", "/staff/login", "/healthz", "/bulletins"])
def test_no_page_can_be_framed_or_sniffed(client: TestClient, path: str) -> None:
    headers = client.get(path).headers

    assert headers["x-frame-options"] == "DENY"
    assert headers["content-security-policy"] == "frame-ancestors 'none'"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "same-origin"


def test_staff_pages_and_member_link_pages_are_never_cached(client: TestClient) -> None:
    sign_in(client)

    staff = client.get("/staff/members")
    link = client.get("/manage/not-a-token")
    public = client.get("/signup")

    assert staff.headers["cache-control"] == "no-store"
    assert link.headers["cache-control"] == "no-store"
    assert "cache-control" not in public.headers


def test_a_large_file_sent_to_the_signup_form_is_refused_before_it_is_read(
    client: TestClient,
) -> None:
    form = client.get("/signup")

    response = client.post(
        "/signup",
        data={"csrf_token": csrf(form.text), "email": "jo@foundry.example", "topics": "tariffs"},
        files={"photo": ("big.bin", b"x" * 30_000_000, "application/octet-stream")},
    )

    assert response.status_code == 413
    assert "at most 256 KB" in response.text


def test_a_streamed_body_without_a_length_is_counted_and_refused(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(100):
            yield b"x" * 10_000  # 1 MB in all, more than a form may be

    response = client.post(
        "/signup",
        content=chunks(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )

    assert response.status_code == 413


def test_a_streamed_body_is_counted_even_beside_a_small_content_length(
    settings: Settings, engine: sa.Engine
) -> None:
    """Sent with both headers, the body is read as chunked (as HTTP says): 1 MB of it under a
    Content-Length of 10 is still more than a form may be."""
    chunk = b"x" * 10_000
    body = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(100)) + b"0\r\n\r\n"
    head = (
        b"POST /signup HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\n"
        b"Content-Length: 10\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    app_settings = settings.model_copy(update={"secret_key": "s"})

    with serving(lambda base_url: create_app(app_settings, engine)) as base_url:
        host, port = base_url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=30) as connection:
            connection.sendall(head)
            # The server may close the connection once it has refused the request.
            with contextlib.suppress(OSError):
                connection.sendall(body)
            status_line = connection.makefile("rb").readline()

    assert status_line.startswith(b"HTTP/1.1 413")


def test_a_small_streamed_body_reaches_the_app_whole(client: TestClient) -> None:
    form = client.get("/signup")
    body = f"csrf_token={csrf(form.text)}&email=not+an+address&topics=tariffs".encode()

    response = client.post(
        "/signup",
        content=iter([body[:10], body[10:]]),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )

    assert len(body) < MAX_FORM_BYTES
    assert response.status_code == 422  # read and understood: the address is refused
    assert "Enter an email address in the correct format" in response.text


def test_an_import_may_be_larger_than_a_form(client: TestClient) -> None:
    page = sign_in(client).text
    rows = "".join(f"m{n}@foundry.example,Member {n},Foundry,tariffs,weekly\n" for n in range(9000))
    csv = ("email,name,organisation,topics,frequency\n" + rows).encode()

    response = client.post(
        "/staff/members/import",
        data={"csrf_token": csrf(page), "consent_confirmed": "true"},
        files={"file": ("members.csv", csv, "text/csv")},
    )

    assert len(csv) > MAX_FORM_BYTES
    assert response.status_code == 200 and "9000 added" in response.text


def test_a_mistyped_trusted_proxy_setting_stops_the_app_at_start(
    settings: Settings, engine: sa.Engine
) -> None:
    mistyped = settings.model_copy(update={"trusted_proxies": "10.0.0.0/8, proxy.internal"})

    with pytest.raises(ValueError, match=r"'proxy\.internal' is not an address or a network"):
        create_app(mistyped, engine)
