"""Fixtures for tests that talk to the fake SendGrid: the test's clock, the fake on 127.0.0.1
(running on that clock), and settings that send through it. A folder's conftest.py imports
those it needs."""

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from alerter.config import Settings
from tests.support.fake_sendgrid import API_KEY, FakeSendGrid
from tests.support.newsroom import Clock

NOW = datetime(2026, 3, 9, 7, 0, tzinfo=UTC)  # a Monday morning


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def sendgrid(clock: Clock) -> Iterator[FakeSendGrid]:
    with FakeSendGrid(clock=lambda: clock.now.timestamp()) as fake:
        yield fake


@pytest.fixture
def sg_settings(settings: Settings, sendgrid: FakeSendGrid) -> Settings:
    return settings.model_copy(
        update={
            "secret_key": "s",
            "mail_backend": "sendgrid",
            "sendgrid_api_key": API_KEY,
            "sendgrid_base_url": sendgrid.url,
            "mail_from": "ALFED alerts <alerts@alfed.example>",
        }
    )
