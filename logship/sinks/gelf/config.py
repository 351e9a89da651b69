"""GELF 1.1 destinations (Graylog, and anything else that reads GELF) over UDP, TCP and HTTP(S).

``gelf://HOST:PORT`` or ``gelf+udp://``: one message per datagram, compressed (gzip by
default), cut into chunks of ``chunk_size_bytes`` when it does not fit in one. ``gelf+tcp://``:
uncompressed messages, each ended by a null byte. ``gelf+http://HOST:PORT[/PATH]`` and
``gelf+https://``: one POST per message to ``/gelf`` (Graylog's path), or one per batch with
``bulk=true``. The same option names work in the URI query and in a YAML block.

Fields follow Docker's ``gelf`` log driver (see :mod:`logship.protocol.gelf`). Labels and
environment variables named in ``labels``/``env`` (or matched by ``labels_regex``/``env_regex``)
become additional fields named by this rule:

1. ``_`` is put in front, unless the name starts with one (as Docker's driver does);
2. every character GELF does not allow in a field name (anything but ``A-Z a-z 0-9 _ . -``)
   becomes ``_``: label ``team name`` is ``_team_name``;
3. ``_id``, which GELF forbids, and the names of fields logship sets itself (``_container_id``,
   ``_stream``, ...) get a ``_`` appended: label ``id`` is ``_id_``;
4. when two names end up the same, an environment variable wins over a label.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, field_validator, model_validator

from logship.config.destination import NetworkDestinationConfig
from logship.config.tls import TlsConfig
from logship.config.values import comma_list
from logship.protocol.gelf import DEFAULT_CHUNK_BYTES, MAX_CHUNK_BYTES, Compression
from logship.sinks.common import DockerTag

_UDP_ONLY = ("chunk_size_bytes",)
_HTTP_ONLY = ("path", "bulk", "request_timeout_secs")
_HTTPS_ONLY = ("tls",)


class GelfConfig(NetworkDestinationConfig):
    """``gelf+udp|tcp|http|https://HOST:PORT``: GELF 1.1, with Docker's gelf driver's fields."""

    type: Literal["gelf"] = "gelf"
    transport: Literal["udp", "tcp", "http", "https"] = Field(
        default="udp",
        description="udp: a datagram per message, compressed and chunked; tcp: null-byte "
        "delimited, uncompressed; http/https: POST to path.",
    )
    port: int = Field(default=12201, ge=1, le=65535, description="Receiver port.")
    compression: Compression | None = Field(
        default=None,
        description="gzip, zlib, none or auto (default: gzip over udp, none over http; tcp "
        "carries only none). auto, over udp only: a message that fits in one datagram goes "
        "uncompressed (Graylog reads it; no CPU spent compressing), a larger one gzip. Over "
        "http it is the body's Content-Encoding (gzip, deflate).",
    )
    compression_level: int = Field(
        default=1,
        ge=1,
        le=9,
        description="1 (fastest, Docker's default) to 9 (smallest).",
    )
    chunk_size_bytes: int = Field(
        default=DEFAULT_CHUNK_BYTES,
        ge=512,
        le=MAX_CHUNK_BYTES,
        description="udp only: largest datagram, chunk header included. 1420 (Docker's) fits "
        "any WAN path; up to 8192 on a LAN. A message that needs more than 128 chunks has its "
        "short_message cut, with a marker.",
    )
    tag: DockerTag = Field(
        default="{{.ID}}",
        description="_tag field, Docker's tag template: {{.ID}} {{.FullID}} {{.Name}} "
        "{{.ImageID}} {{.ImageFullID}} {{.ImageName}} {{.DaemonName}} {{.Hostname}} "
        "{{.Command}}. The default is Docker's gelf driver's.",
        examples=["{{.ImageName}}/{{.Name}}"],
    )
    labels: Annotated[list[str], BeforeValidator(comma_list)] = Field(
        default_factory=list,
        description="Container labels to send as _<label> fields (Docker's --log-opt labels).",
        examples=[["app", "com.example.team"]],
    )
    labels_regex: str | None = Field(
        default=None,
        description="Also send every label whose name this regular expression finds "
        "(Docker's --log-opt labels-regex).",
        examples=["^com\\.example\\."],
    )
    env: Annotated[list[str], BeforeValidator(comma_list)] = Field(
        default_factory=list,
        description="Container environment variables to send as _<NAME> fields "
        "(Docker's --log-opt env).",
        examples=[["APP_ENV"]],
    )
    env_regex: str | None = Field(
        default=None,
        description="Also send every environment variable whose name this regular expression "
        "finds (Docker's --log-opt env-regex).",
        examples=["^APP_"],
    )
    path: str = Field(
        default="/gelf",
        description="http/https only: where messages are POSTed (a URI's path sets it).",
        examples=["/gelf"],
    )
    bulk: bool = Field(
        default=False,
        description="http/https only: one POST per batch, messages separated by newlines "
        "(Graylog's GELF HTTP input with 'Enable Bulk Receiving'). Default: one POST per "
        "message, which every GELF HTTP receiver takes.",
    )
    request_timeout_secs: float = Field(
        default=30.0, gt=0, description="http/https only: how long a POST may take."
    )
    tls: TlsConfig = Field(
        default_factory=TlsConfig,
        description="https only: tls.ca_file, tls.verify, tls.cert_file, tls.key_file.",
    )

    @field_validator("labels_regex", "env_regex")
    @classmethod
    def _check_regex(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(
                    f"{value!r} is not a regular expression ({exc}); "
                    "expected one like ^com\\.example\\."
                ) from None
        return value

    @field_validator("path")
    @classmethod
    def _check_path(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError(f"path {value!r} must start with '/', like /gelf")
        return value

    @model_validator(mode="after")
    def _options_fit_the_transport(self) -> GelfConfig:
        given = self.model_fields_set
        problems = []
        for names, transports in (
            (_UDP_ONLY, ("udp",)),
            (_HTTP_ONLY, ("http", "https")),
            (_HTTPS_ONLY, ("https",)),
        ):
            problems += [
                f"option {name!r} applies to gelf+{' and gelf+'.join(transports)}, "
                f"not to gelf+{self.transport}"
                for name in names
                if name in given and self.transport not in transports
            ]
        if self.transport == "tcp" and self.compression not in (None, "none"):
            problems.append(
                f"compression {self.compression!r} cannot be used with gelf+tcp: GELF over TCP "
                "is uncompressed, each message ended by a null byte; expected none"
            )
        if self.compression == "auto" and self.transport != "udp":
            problems.append(
                f"compression 'auto' is for gelf+udp only, not gelf+{self.transport}; "
                "expected gzip, zlib or none"
            )
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def effective_compression(self) -> Compression:
        if self.compression is not None:
            return self.compression
        return "gzip" if self.transport == "udp" else "none"

    def describe(self) -> str:
        if self.name:
            return self.name
        path = self.path if self.transport in ("http", "https") else ""
        return f"gelf+{self.transport}://{self.host}:{self.port}{path}"
