"""Sending email. The transport is chosen by settings; the outbox is the embedded default."""

from alerter.config import Settings
from alerter.delivery.message import Email
from alerter.delivery.outbox import OutboxTransport

__all__ = ["Email", "OutboxTransport", "transport_for"]


def transport_for(settings: Settings) -> OutboxTransport:
    return OutboxTransport(settings.outbox_dir, settings.mail_from)
