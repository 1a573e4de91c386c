"""The members' domain: members, their topics and frequency, consent, signed links, import and
export, and staff accounts; it may import only the ground floor (alerter.config, db, models,
render, logs, progress)."""
