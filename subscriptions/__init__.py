"""Members, their subscriptions, and the web pages for members and staff."""
