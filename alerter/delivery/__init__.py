"""Delivery: every email composed (compose/) and handed to the mail service through one
transport, chosen by settings (the outbox is the embedded default), and the mail service's
events about it; imports the ground floor and subscriptions, never the ledger or a stage."""

from datetime import timedelta

from alerter import branding
from alerter.config import Settings
from alerter.delivery.message import Email, Mailing, Personalization, single
from alerter.delivery.outbox import OutboxTransport
from alerter.delivery.transport import (
    DeliveryError,
    InDoubt,
    Rejected,
    SendBatch,
    Throttled,
    TooManyCancelled,
    Transport,
    Unavailable,
)

__all__ = [
    "DeliveryError",
    "Email",
    "InDoubt",
    "MailSettingsError",
    "Mailing",
    "OutboxTransport",
    "Personalization",
    "Rejected",
    "SendBatch",
    "Throttled",
    "TooManyCancelled",
    "Transport",
    "Unavailable",
    "cancel_window",
    "single",
    "transport_for",
]


class MailSettingsError(ValueError):
    """The chosen mail backend lacks a setting it needs."""


def cancel_window(settings: Settings) -> timedelta:
    """How long a SendGrid batch stays cancellable. A dead sender's claims run out one lease
    after its last request, and a later run must still find time to cancel what it sent."""
    return max(timedelta(seconds=5 * settings.delivery_lease_seconds), timedelta(minutes=2))


def transport_for(settings: Settings) -> Transport:
    """The chosen backend, sending as the association's sender (alerter.branding) now."""
    sender = branding.current(settings)
    if settings.mail_backend == "sendgrid":
        from alerter.delivery.sendgrid_api import SendGridTransport

        if not settings.sendgrid_api_key:
            raise MailSettingsError("ALERTER_MAIL_BACKEND=sendgrid needs SENDGRID_API_KEY")
        return SendGridTransport(
            settings.sendgrid_api_key,
            settings.sendgrid_base_url,
            sender.mail_from,
            reply_to=sender.reply_to,
            cancel_window=cancel_window(settings),
        )
    if settings.mail_backend == "smtp":
        from alerter.delivery.smtp import SmtpTransport

        if not settings.smtp_url:
            raise MailSettingsError("ALERTER_MAIL_BACKEND=smtp needs ALERTER_SMTP_URL")
        return SmtpTransport(settings.smtp_url, sender.mail_from, sender.reply_to)
    return OutboxTransport(settings.outbox_dir, sender.mail_from, sender.reply_to)
