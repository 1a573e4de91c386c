"""Driving the web app's forms from tests: the CSRF token a page carries, and a staff sign-in."""

import re

import httpx

STAFF_EMAIL = "ann@alfed.example"
STAFF_PASSWORD = "a long staff passphrase"


def csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "the page has no CSRF token"
    return match.group(1)


def sign_in(client: httpx.Client, password: str = STAFF_PASSWORD) -> httpx.Response:
    """Sign in as the test staff member (a TestClient, or an httpx client of a live server)."""
    form = client.get("/staff/login")
    return client.post(
        "/staff/login",
        data={
            "csrf_token": csrf(form.text),
            "email": STAFF_EMAIL,
            "password": password,
            "next": "/staff/items",
        },
    )
