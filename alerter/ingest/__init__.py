"""Ingest: polling each source, fetching and parsing what it publishes and storing it as items,
classified as they are stored; it may import the ground floor, alerter.health (workers' heartbeats,
for claims) and alerter.topics, never the web app or the command line."""
