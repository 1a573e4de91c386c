"""The web app: members' self-service pages (and, to come, the staff console)."""
