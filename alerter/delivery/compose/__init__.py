"""Composing: every email alerter sends (digests, bulletins, confirmations and manage links,
deadline reminders and outcomes, staff alerts), pure, from content to a mailing; imports the
ground floor, subscriptions and delivery's messages, never a stage that uses it."""
