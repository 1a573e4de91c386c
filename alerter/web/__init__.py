"""The web app, one FastAPI app for members' pages and the staff console, on top of the stages and
subscriptions: it may import any of them, and nothing in alerter but the command line imports it."""
