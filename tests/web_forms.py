"""Driving the web app's forms from tests: the CSRF token a page carries, and a staff sign-in."""

import re

import httpx
from fastapi.testclient import TestClient

STAFF_EMAIL = "ann@alfed.example"
STAFF_PASSWORD = "a long staff passphrase"


def csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "the page has no CSRF token"
    return match.group(1)


def sign_in(client: TestClient, password: str = STAFF_PASSWORD) -> httpx.Response:
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
