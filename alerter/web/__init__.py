"""The web app: members' self-service pages and the staff console, one FastAPI app."""
