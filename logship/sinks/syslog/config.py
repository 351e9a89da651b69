"""``syslog+udp|tcp|tls://HOST:PORT?format=rfc5424|rfc3164&tag=TEMPLATE``: RFC 5424/3164 over
UDP (RFC 5426), TCP (RFC 6587) or TLS (RFC 5425). The same options make a YAML block
(``type: syslog``, ``transport: tcp``, ...)."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, ValidationInfo, field_validator, model_validator

from logship.config.destination import NetworkDestinationConfig
from logship.config.tls import TlsConfig
from logship.errors import ConfigError
from logship.protocol.syslog import FACILITIES, FACILITY_DAEMON
from logship.sinks.common import DockerTag
from logship.transport.tls import client_context

UDP_MAX_MESSAGE_BYTES = 65507  # an IPv4 datagram's payload at most
STREAM_TRANSPORTS = ("tcp", "tls")
DEFAULT_PORTS = {"udp": 514, "tcp": 514, "tls": 6514}
# What the receivers people run expect with their defaults: newline framing over TCP (Fluent
# Bit's in_syslog, Vector, logspout; rsyslog and syslog-ng take both), octet counting over TLS
# (the only framing RFC 5425 allows)
DEFAULT_FRAMING = {"tcp": "non-transparent", "tls": "octet-counting"}
FRAMING_SAID = {
    "octet-counting": "octet-counting framing (each message preceded by its length)",
    "non-transparent": "non-transparent framing (each message ends with LF)",
}


# An SD-ELEMENT's inside (RFC 5424 6.3): an SD-ID, then SP name="value" params; a value escapes
# '"', '\\' and ']'. The SD-ID's length is not limited to 32 here: receivers' tokens (Loggly's)
# run past it, and logspout writes them as given.
_SD_NAME = r"[!#-<>-\\^-~]"
_SD_VALUE = r'"(?:[^"\\\]\x00-\x1f\x7f]|\\["\\\]])*"'
SD_ELEMENT = re.compile(rf"{_SD_NAME}+(?: {_SD_NAME}{{1,32}}={_SD_VALUE})*")


def _facility(value: object) -> object:
    """A facility's name (Docker's names) or number, as text or an integer -> its number."""
    if isinstance(value, str):
        name = value.strip().lower()
        if name in FACILITIES:
            return FACILITIES[name]
        if name.isdigit():
            return int(name)
        raise ValueError(
            f"unknown syslog facility {value!r}: expected a number from 0 to 23 or one of "
            + ", ".join(FACILITIES)
        )
    return value


def _labels(value: object) -> object:
    if isinstance(value, str) and value not in ("all", "none"):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


class SyslogConfig(NetworkDestinationConfig):
    type: Literal["syslog"] = Field(
        default="syslog",
        description="syslog (in a URI: syslog+udp://, syslog+tcp:// or syslog+tls://).",
    )
    transport: Literal["udp", "tcp", "tls"] = Field(
        default="udp",
        description="How messages travel: udp (RFC 5426, one message per datagram), tcp "
        "(RFC 6587) or tls (RFC 5425, the server's certificate verified).",
    )
    port: int = Field(
        default=514,
        ge=1,
        le=65535,
        description="Receiver port (default: 514 for udp and tcp, 6514 for tls).",
    )
    format: Literal["rfc5424", "rfc5424micro", "rfc3164"] = Field(
        default="rfc5424",
        description="rfc5424: structured data with the enrichment, microsecond UTC timestamps; "
        "rfc5424micro: what Docker's syslog driver writes in that format (microseconds, "
        "logship's PID as PROCID, no structured data, a LF at the end); rfc3164: the old BSD "
        "form, for receivers that know nothing else.",
    )
    facility: Annotated[int, BeforeValidator(_facility)] = Field(
        default=FACILITY_DAEMON,
        ge=0,
        le=23,
        description="Syslog facility, as Docker's syslog-facility: a name (kern, user, mail, "
        "daemon, auth, syslog, lpr, news, uucp, cron, authpriv, ftp, local0 to local7) or a "
        "number from 0 to 23. Default daemon (3), as Docker's.",
        examples=["local0", "16"],
    )
    tag: DockerTag = Field(
        default="{{.Name}}",
        description="Docker's tag template: {{.ID}} {{.FullID}} {{.Name}} {{.ImageID}} "
        "{{.ImageFullID}} {{.ImageName}} {{.DaemonName}} {{.Hostname}} {{.Command}}. "
        "Fills APP-NAME and MSGID, as Docker's syslog driver does.",
        examples=["{{.ImageName}}/{{.Name}}/{{.ID}}"],
    )
    labels: Annotated[Literal["all", "none"] | list[str], BeforeValidator(_labels)] = Field(
        default="all",
        description="Container labels to carry in structured data: all, none, or a list of keys "
        "(rfc5424 only).",
    )
    structured_data_id: str = Field(
        default="logship@32473",
        # NAME@PEN: IDs without "@" are reserved for IANA (RFC 5424 section 7.2)
        pattern=r"^[!#-<>?A-\\^-~]+@[0-9][0-9.]*$",
        max_length=32,
        description="SD-ID of logship's structured data element, NAME@NUMBER (the labels "
        "element becomes labels@NUMBER). 32473 is the enterprise number RFC 5612 reserves for "
        "examples: with your organisation's own IANA Private Enterprise Number, set e.g. "
        "logship@<your number>, so no one else's elements can clash with yours. rfc5424 only.",
    )
    structured_data: str = Field(
        default="",
        description="One more structured data element, written as given between brackets "
        'after logship\'s own: SD-ID then name="value" pairs, e.g. '
        "'TOKEN@41058 tag=\"web\"' for a receiver that reads a token there. logspout's "
        "structured_data option and SYSLOG_STRUCTURED_DATA. rfc5424 only.",
    )
    parsed_fields: bool = Field(
        default=False,
        description="A line read as JSON (the parse setting) also carries its fields as "
        'structured data, json@NUMBER name="value" (objects and lists as JSON text). The '
        "message stays the line as written either way; its level sets the severity. "
        "rfc5424 only.",
    )
    max_message_bytes: int = Field(
        default=8192,
        ge=480,
        le=1024 * 1024,
        description="Largest message sent; longer ones are cut, with a marker saying how much. "
        "8192 is rsyslog's default limit; UDP carries at most 65507, tcp and tls 1048576.",
    )
    framing: Literal["octet-counting", "non-transparent"] = Field(
        default="non-transparent",
        description="tcp and tls only; default non-transparent for tcp, octet-counting for tls. "
        "non-transparent (RFC 6587 3.4.2): each message ends with LF (newlines inside become "
        "spaces), what Fluent Bit's in_syslog, Vector and logspout expect by default; "
        "octet-counting (RFC 6587 3.4.1, RFC 5425): each message preceded by its length in "
        "bytes, so a message with newlines stays one message. rsyslog and syslog-ng take both.",
    )
    tls: TlsConfig = Field(
        default_factory=TlsConfig,
        description="tls only: trusted CAs (tls.ca_file), client certificate (tls.cert_file, "
        "tls.key_file), expected name (tls.server_name); tls.verify=false turns checking off.",
    )
    write_timeout_secs: float = Field(
        default=30.0,
        gt=0,
        description="tcp and tls only: how long writing one batch may take before the "
        "receiver counts as stalled and the connection is made again.",
    )

    @model_validator(mode="before")
    @classmethod
    def _transport_defaults(cls, data: Any) -> Any:
        """No port given: the transport's own (514, or 6514 for tls); no framing given: the
        transport's own (non-transparent for tcp, octet-counting for tls)."""
        if not isinstance(data, dict):
            return data
        transport = data.get("transport", "udp")
        if not isinstance(transport, str):
            return data
        if "port" not in data and transport in DEFAULT_PORTS:
            data = {**data, "port": DEFAULT_PORTS[transport]}
        if "framing" not in data and transport in DEFAULT_FRAMING:
            data = {**data, "framing": DEFAULT_FRAMING[transport]}
        return data

    @field_validator("structured_data")
    @classmethod
    def _one_sd_element(cls, value: str) -> str:
        if value and not SD_ELEMENT.fullmatch(value):
            raise ValueError(
                "expected the inside of one structured data element: an SD-ID, then "
                'name="value" pairs separated by spaces, with " \\ and ] escaped by a '
                "backslash in a value (RFC 5424 6.3), e.g. 'TOKEN@41058 tag=\"web\"'"
            )
        return value

    @field_validator("max_message_bytes")
    @classmethod
    def _fits_a_datagram(cls, value: int, info: ValidationInfo) -> int:
        if info.data.get("transport") == "udp" and value > UDP_MAX_MESSAGE_BYTES:
            raise ValueError(
                f"{value} bytes do not fit in a UDP datagram: expected at most "
                f"{UDP_MAX_MESSAGE_BYTES} over udp (tcp and tls take up to 1048576)"
            )
        return value

    @field_validator("framing", "write_timeout_secs")
    @classmethod
    def _stream_only(cls, value: Any, info: ValidationInfo) -> Any:
        transport = info.data.get("transport")
        if transport is not None and transport not in STREAM_TRANSPORTS:
            raise ValueError(
                f"{info.field_name} applies to transport tcp or tls, not {transport!r} "
                "(over udp each datagram is one message)"
            )
        return value

    @field_validator("tls")
    @classmethod
    def _tls_only(cls, value: TlsConfig, info: ValidationInfo) -> TlsConfig:
        transport = info.data.get("transport")
        if transport is not None and transport != "tls":
            raise ValueError(
                f"tls options apply to transport tls, not {transport!r} "
                "(use syslog+tls:// or transport: tls)"
            )
        # the files are readable (TlsConfig checked): make sure they hold what they should
        try:
            client_context(value)
        except ConfigError as exc:
            raise ValueError(str(exc)) from None
        return value

    def describe(self) -> str:
        return self.name or f"syslog+{self.transport}://{self.host}:{self.port}"
