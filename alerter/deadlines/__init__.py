"""Deadlines: closing dates as members read them, the association's own response dates,
calendar feeds, and the reminders and outcome alerts sent through the ledger; imports the
ground floor, subscriptions, topics, the ledger and delivery."""
