"""Members, their subscriptions and consent, and staff accounts."""
