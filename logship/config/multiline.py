"""How continuation lines are joined into one record (a stack trace printed over many lines):
the option model, shared by the settings (for every destination) and each destination's own.

The joining itself is :mod:`logship.transform.multiline`.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Preset = Literal["java", "python", "go", "nodejs", "indented"]
PRESETS: tuple[Preset, ...] = ("java", "python", "go", "nodejs", "indented")
OFF = "off"

DEFAULT_FLUSH_TIMEOUT_SECS = 0.5
DEFAULT_MAX_LINES = 500
DEFAULT_MAX_BYTES = 1024 * 1024


class MultilineConfig(BaseModel):
    """Join the lines of one event (a stack trace) into one record, per container and stream.

    Either a preset, or a pattern; none of them: no joining. Written as a block, or as the
    preset's name alone (``multiline: java``).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    preset: Preset | None = Field(
        default=None,
        description="Join what this runtime prints over several lines: java (JVM stack traces: "
        "'at ...', 'Caused by:', '... N more', the exception after the line that logged it), "
        "python (tracebacks, chained ones too), go (panics and fatal errors with their "
        "goroutines), nodejs (errors with their stack, an uncaught exception's source line), "
        "indented (lines that begin with a space or tab continue the line before).",
        examples=["java"],
    )
    start_pattern: str | None = Field(
        default=None,
        description="A regular expression (searched in each line): a line it matches begins a "
        "new record, any other line continues the record before.",
        examples=[r"^\d{4}-\d{2}-\d{2}"],
    )
    continuation_pattern: str | None = Field(
        default=None,
        description="A regular expression (searched in each line): a line it matches continues "
        "the record before, any other line begins a new one.",
        examples=[r"^\s"],
    )
    flush_timeout_secs: float = Field(
        default=DEFAULT_FLUSH_TIMEOUT_SECS,
        gt=0,
        le=60,
        description="A record still open is shipped once no line came for it this long (the "
        "last trace of a container that went quiet).",
    )
    max_lines: int = Field(
        default=DEFAULT_MAX_LINES,
        ge=2,
        description="Lines one record may join; the lines after them begin the next record.",
    )
    max_bytes: int = Field(
        default=DEFAULT_MAX_BYTES,
        ge=1024,
        description="Size one joined record may reach (UTF-8); the line that would pass it "
        "begins the next record.",
    )

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        if isinstance(value, str):  # multiline: java, or multiline=java in a URI
            return {} if value.strip().lower() in (OFF, "") else {"preset": value.strip()}
        return value

    @field_validator("start_pattern", "continuation_pattern")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"not a regular expression ({exc})") from None
        return value

    @model_validator(mode="after")
    def _one_way(self) -> MultilineConfig:
        given = [
            name
            for name in ("preset", "start_pattern", "continuation_pattern")
            if getattr(self, name) is not None
        ]
        if len(given) > 1:
            raise ValueError(
                f"give one of preset, start_pattern or continuation_pattern, not {given}"
            )
        return self

    @property
    def enabled(self) -> bool:
        return (
            self.preset is not None
            or self.start_pattern is not None
            or self.continuation_pattern is not None
        )
