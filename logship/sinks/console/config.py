"""``console://?format=text|json``: records on standard output."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from logship.config.destination import DestinationConfig


class ConsoleConfig(DestinationConfig):
    type: Literal["console"] = "console"
    format: Literal["text", "json"] = Field(
        default="text",
        description="text: one readable line per record; json: one JSON object per line (NDJSON).",
    )

    def describe(self) -> str:
        return self.name or f"console ({self.format})"
