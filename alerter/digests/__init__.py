"""Digests: choosing each member's new items and grouping them, and the digest runs that plan
them in the ledger and send them; imports the ground floor, subscriptions, topics, deadlines,
the ledger and delivery."""
