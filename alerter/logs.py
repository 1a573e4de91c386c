"""Logging for every process: text lines for people, or one JSON object per line
(ALERTER_LOG_FORMAT=json) for log collectors. A record's context (the source, the member id,
the delivery id: never an email address) is passed as `extra` and kept as fields."""

import json
import logging
import sys
from datetime import UTC, datetime

CONTEXT = ("source", "member_id", "delivery_id", "bulletin_id", "kind", "period")
# Libraries that report every job run or migration step at INFO: at that level a worker's log
# would be mostly theirs.
CHATTY = ("apscheduler", "alembic")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        data |= {name: getattr(record, name) for name in CONTEXT if hasattr(record, name)}
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False, default=str)


def configure_logging(log_format: str, level: int) -> None:
    """Route every logger to standard error in the chosen format (replacing earlier set-up)."""
    handler = logging.StreamHandler(sys.stderr)
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in CHATTY:
        logging.getLogger(name).setLevel(max(level, logging.WARNING))
