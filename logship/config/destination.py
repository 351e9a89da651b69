"""What every destination's config shares: name, buffer bounds, batching, filter, disk spool;
and, for those reached over the network, host and reconnection."""

from __future__ import annotations

import hashlib
import json
import re

from pydantic import BaseModel, ConfigDict, Field, model_validator

from logship.config.filters import DestinationFilter
from logship.config.multiline import MultilineConfig
from logship.config.tls import TlsConfig

# what the spool key of a destination does not depend on: changing these keeps its spool
_TUNING = {
    "name",
    "buffer_max_records",
    "buffer_max_bytes",
    "batch",
    "filter",
    "spool",
    "multiline",
    # Elasticsearch's index template: how the cluster types fields, not where records go
    "install_template",
    "template_name",
    "template_priority",
}
# options added after spool keys were first written: left out of the key while unset, so that a
# destination that does not use them keeps the spool it had before they existed
_LATER = {"hosts"}


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
    """A disk spool for what the memory buffer would drop (see logship/pipeline/spool/)."""

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
    """The options every destination has. Each destination type adds its own (and its
    ``type``, which tells the types apart in a configuration)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: str = Field(description="The destination type (the URI scheme sets it).")

    name: str | None = Field(
        default=None,
        description="A name for this destination in logs and metrics (default: its URI).",
        examples=["central-syslog"],
    )
    buffer_max_records: int | None = Field(
        default=None,
        ge=1,
        description="Records this destination may hold while it is slow or down; beyond it the "
        "oldest lines of the container holding the most are dropped (default: "
        "buffer.max_records).",
    )
    buffer_max_bytes: int | None = Field(
        default=None,
        ge=1024,
        description="Bytes this destination may hold; beyond it the oldest lines of the "
        "container holding the most bytes are dropped (default: buffer.max_bytes).",
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
    multiline: MultilineConfig | None = Field(
        default=None,
        description="How this destination joins multiline records, instead of the global "
        "multiline setting (multiline=java, multiline.start_pattern=..., multiline=off in a "
        "URI). Default: the global setting.",
        examples=["java"],
    )

    def describe(self) -> str:
        """How logs refer to this destination."""
        return self.name or type(self).__name__.removesuffix("Config").lower()

    def security_warnings(self) -> list[str]:
        """What about this destination exposes records or credentials on the network, each
        a sentence for the log at start and for ``logship check``: here, TLS with
        verification off; a destination type adds its own (credentials over plain HTTP)."""
        tls = getattr(self, "tls", None)
        if isinstance(tls, TlsConfig) and not tls.verify:
            return [
                "tls.verify=false: the server's certificate is not checked, so whoever is on "
                "the way can pose as the server and read what is sent; give tls.ca_file "
                "instead"
            ]
        return []

    def spool_key(self) -> str:
        """The name of this destination's disk spool directory, which a restart with the same
        destination finds again: from ``name`` when it has one (so its other options can
        change), else from its type, host, port and a hash of its delivery options (not of
        buffer, batch, filter, spool or ``*_secs`` options)."""
        if self.name:
            return "name-" + _safe(self.name)
        options = self.model_dump(mode="json", exclude=_TUNING)
        options = {
            k: v
            for k, v in options.items()
            if not k.endswith("_secs") and not (k in _LATER and v is None)
        }
        digest = hashlib.sha256(json.dumps(options, sort_keys=True).encode()).hexdigest()[:12]
        kind = str(options.get("type", "destination"))
        host = str(options.get("host") or "")
        port = str(options.get("port") or "")
        return _safe("-".join(p for p in (kind, host, port) if p)) + "-" + digest


class NetworkDestinationConfig(DestinationConfig):
    """A destination reached over the network, reconnected forever with backoff."""

    host: str = Field(description="Receiver host name or address.", examples=["127.0.0.1"])
    reconnect_max_secs: float = Field(
        default=30.0,
        gt=0,
        description="Longest wait between reconnection attempts (exponential backoff with full "
        "jitter: each wait is random, from zero up to the current step).",
    )
    connect_timeout_secs: float = Field(
        default=10.0, gt=0, description="How long a connection attempt may take."
    )


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", text)[:80] or "_"
