"""What every destination's config shares."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class DestinationConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str | None = Field(
        default=None,
        description="A name for this destination in logs and metrics (default: its URI).",
        examples=["central-syslog"],
    )
    buffer_max_records: int | None = Field(
        default=None,
        ge=1,
        description="Records this destination may hold while it is slow or down; the oldest are "
        "dropped beyond it (default: buffer.max_records).",
    )
    buffer_max_bytes: int | None = Field(
        default=None,
        ge=1024,
        description="Bytes this destination may hold; the oldest records are dropped beyond it "
        "(default: buffer.max_bytes).",
    )

    def describe(self) -> str:
        """How logs refer to this destination."""
        return self.name or type(self).__name__.removesuffix("Config").lower()
