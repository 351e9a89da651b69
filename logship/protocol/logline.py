"""logship's own log lines as JSON, one object a line, with ECS names. No I/O.

``{"@timestamp": "2026-12-05T16:30:01.123Z", "log": {"level": "warning", "logger":
"logship.runner"}, "message": "...", "error": {"type": ..., "message": ..., "stack_trace": ...}}``

The same names as the console's JSON documents use (``@timestamp``, ``log.*``, ``message``), so
one pipeline can read logship's lines beside the containers'. ``error`` only when the line
carries an exception.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any


class JsonLogFormatter(logging.Formatter):
    """A :class:`logging.Formatter` writing each record as one JSON object (see above)."""

    def format(self, record: logging.LogRecord) -> str:
        seconds = time.gmtime(record.created)
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", seconds) + f".{int(record.msecs):03d}Z"
        line: dict[str, Any] = {
            "@timestamp": stamp,
            "log": {"level": record.levelname.lower(), "logger": record.name},
            "message": record.getMessage(),
        }
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            line["error"] = {
                "type": type(exc).__name__,
                "message": str(exc),
                "stack_trace": self.formatException(record.exc_info),
            }
        return json.dumps(line, ensure_ascii=False)
