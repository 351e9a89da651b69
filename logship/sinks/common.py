"""What every destination's config shares: name, buffer bounds, batching, filters, disk spool,
TLS."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from logship.protocol.template import TagTemplate


def comma_list(value: object) -> object:
    """``"a,b"`` -> ``["a", "b"]`` (URI query values and environment variables are strings)."""
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


def _valid_tag(value: str) -> str:
    TagTemplate(value)  # raises ValueError naming an unknown placeholder
    return value


DockerTag = Annotated[str, AfterValidator(_valid_tag)]
"""A Docker log tag template ({{.ID}}, {{.Name}}, ...), checked when the config is read."""


def _readable_file(value: Path | None, what: str) -> Path | None:
    if value is not None and not os.access(value, os.R_OK):
        raise ValueError(f"{what} {str(value)!r} does not exist or cannot be read")
    return value


class DestinationFilter(BaseModel):
    """Which records this destination takes (logspout's names). All given conditions must hold."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str | None = Field(
        default=None, description="Container name glob.", examples=["*_db", "web-*"]
    )
    id: str | None = Field(default=None, description="Container ID prefix.", examples=["5f9a66"])
    sources: Annotated[list[Literal["stdout", "stderr"]], BeforeValidator(comma_list)] = Field(
        default_factory=list, description="Streams to take (default: both).", examples=[["stderr"]]
    )
    labels: Annotated[list[str], BeforeValidator(comma_list)] = Field(
        default_factory=list,
        description="Labels as key:value (value may be a glob); every one must match.",
        examples=[["io.kubernetes.pod.namespace:payments"]],
    )

    @field_validator("labels")
    @classmethod
    def _key_value(cls, value: list[str]) -> list[str]:
        for item in value:
            if ":" not in item:
                raise ValueError(f"label filter {item!r} must be key:value (value may be *)")
        return value

    def __bool__(self) -> bool:
        return bool(self.name or self.id or self.sources or self.labels)


class TlsConfig(BaseModel):
    """TLS towards a destination. Verification is on unless turned off explicitly."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    verify: bool = Field(
        default=True,
        description="Check the server's certificate and name. Turn off only for tests.",
    )
    ca_file: Path | None = Field(
        default=None,
        description="PEM file of the CAs to trust (default: the system's).",
        examples=["/etc/logship/ca.pem"],
    )
    cert_file: Path | None = Field(
        default=None, description="Client certificate (PEM), for receivers that ask for one."
    )
    key_file: Path | None = Field(default=None, description="Private key of cert_file (PEM).")
    server_name: str | None = Field(
        default=None,
        description="Name to verify in the server's certificate and send as SNI "
        "(default: the destination's host).",
    )

    @field_validator("ca_file")
    @classmethod
    def _ca(cls, value: Path | None) -> Path | None:
        return _readable_file(value, "CA file")

    @field_validator("cert_file")
    @classmethod
    def _cert(cls, value: Path | None) -> Path | None:
        return _readable_file(value, "certificate file")

    @field_validator("key_file")
    @classmethod
    def _key(cls, value: Path | None) -> Path | None:
        return _readable_file(value, "key file")

    @model_validator(mode="after")
    def _pair(self) -> TlsConfig:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file and key_file go together: give both or neither")
        return self


class BatchConfig(BaseModel):
    """How records are grouped into what is sent at once."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_records: int = Field(default=2048, ge=1, description="Records per batch at most.")
    timeout_secs: float = Field(
        default=0.05,
        ge=0,
        le=60,
        description="How long a batch waits for more records when they trickle in.",
    )


class SpoolConfig(BaseModel):
    """A disk spool for what the memory buffer would drop (see logship/pipeline/spool.py)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(
        default=False,
        description="Keep the records a full buffer would drop in <state_dir>/spool/<key>/ "
        "instead, and send them first when the destination is back, across agent restarts "
        "too. Needs state_dir.",
    )
    max_bytes: int = Field(
        default=256 * 1024 * 1024,
        ge=64 * 1024,
        description="Disk the spool may use; beyond it its oldest segment is deleted and its "
        "records counted as dropped (reason spool_full).",
    )
    segment_bytes: int | None = Field(
        default=None,
        ge=16 * 1024,
        description="Size of each spool file (segment); the spool drops a whole segment at a "
        "time when full. At most a quarter of max_bytes (default: 4 MiB, or an eighth of "
        "max_bytes when that is less).",
    )

    def segment_size(self) -> int:
        """segment_bytes, or its default for this max_bytes."""
        return self.segment_bytes or min(4 * 1024 * 1024, self.max_bytes // 8)

    @model_validator(mode="after")
    def _segments_fit(self) -> SpoolConfig:
        if self.segment_bytes is not None and self.segment_bytes * 4 > self.max_bytes:
            raise ValueError(
                f"segment_bytes ({self.segment_bytes}) must be at most a quarter of max_bytes "
                f"({self.max_bytes}), so that dropping the oldest segment frees room"
            )
        return self


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
    batch: BatchConfig = Field(default_factory=BatchConfig)
    filter: DestinationFilter = Field(
        default_factory=DestinationFilter,
        description="Only records matching this go to this destination (filter.name=..., "
        "filter.id=..., filter.sources=..., filter.labels=... in a URI).",
    )
    spool: SpoolConfig = Field(
        default_factory=SpoolConfig,
        description="Disk spool for what the buffer would drop (spool.enabled=true, "
        "spool.max_bytes=..., spool.segment_bytes=... in a URI). Needs state_dir.",
    )

    def describe(self) -> str:
        """How logs refer to this destination."""
        return self.name or type(self).__name__.removesuffix("Config").lower()


class NetworkDestinationConfig(DestinationConfig):
    """A destination reached over the network, reconnected forever with backoff."""

    host: str = Field(description="Receiver host name or address.", examples=["127.0.0.1"])
    reconnect_max_secs: float = Field(
        default=30.0,
        gt=0,
        description="Longest wait between reconnection attempts (exponential backoff, jitter).",
    )
    connect_timeout_secs: float = Field(
        default=10.0, gt=0, description="How long a connection attempt may take."
    )
