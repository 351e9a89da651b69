"""Lines that are JSON objects, read as fields: the option model (shared by the settings and a
container's ``logship.parse`` label) and how a line's level maps to a syslog severity.

The parsing itself is :mod:`logship.transform.parse`.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

OFF = "off"
JSON = "json"
MESSAGE_FIELDS = ("msg", "message", "log")
LEVEL_FIELDS = ("level", "severity", "lvl")
TIME_FIELDS = ("time", "timestamp", "ts")

# level names (lowercase) -> syslog severity (RFC 5424: 0 emergency ... 7 debug)
SEVERITIES = {
    "emerg": 0,
    "emergency": 0,
    "panic": 0,
    "alert": 1,
    "crit": 2,
    "critical": 2,
    "fatal": 2,
    "err": 3,
    "error": 3,
    "warn": 4,
    "warning": 4,
    "notice": 5,
    "info": 6,
    "information": 6,
    "informational": 6,
    "debug": 7,
    "trace": 7,
}
# pino's and bunyan's numbers: 10 trace, 20 debug, 30 info, 40 warn, 50 error, 60 fatal
_NUMBERED = {10: 7, 20: 7, 30: 6, 40: 4, 50: 3, 60: 2}


def severity_of(level: object) -> int | None:
    """The syslog severity a line's level says: a name (``warn``, ``ERROR``), a syslog number
    (0 to 7) or pino's and bunyan's (10 to 60). None: no level logship knows."""
    if isinstance(level, str):
        return SEVERITIES.get(level.strip().lower())
    if isinstance(level, int) and not isinstance(level, bool):
        if 0 <= level <= 7:
            return level
        return _NUMBERED.get(level)
    return None


class ParseConfig(BaseModel):
    """Read lines that are JSON objects as fields. Written as a block, or as ``json`` (on) or
    ``off``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    format: Literal["json"] | None = Field(
        default=None,
        description="json: a line that is a JSON object is read as fields (its message, "
        "level and time among them); any other line is shipped as it is, and counted. "
        "None: lines are not parsed, unless a container asks with the label "
        "logship.parse=json.",
        examples=["json"],
    )
    message_field: str | None = Field(
        default=None,
        description="The field that holds the message. None: the first of msg, message and "
        "log the line has; a line with none of them keeps its whole text as the message.",
        examples=["msg"],
    )
    level_field: str | None = Field(
        default=None,
        description="The field that holds the level (a name like warn or ERROR, a syslog "
        "number 0-7, or pino's 10-60): it sets the syslog severity, the GELF level and "
        "Elasticsearch's log.level. None: the first of level, severity and lvl.",
        examples=["level"],
    )
    time_field: str | None = Field(
        default=None,
        description="The field that holds the line's own time (RFC 3339, or Unix seconds), "
        "used with use_time. None: the first of time, timestamp and ts.",
        examples=["time"],
    )
    use_time: bool = Field(
        default=False,
        description="Ship the line's own time (time_field) instead of the time Docker read "
        "the line at; a line whose time cannot be read keeps Docker's.",
    )

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        if isinstance(value, str):  # parse: json, or parse=json in LOGSHIP_PARSE
            word = value.strip().lower()
            return {} if word in (OFF, "") else {"format": word}
        return value

    @property
    def enabled(self) -> bool:
        return self.format is not None
