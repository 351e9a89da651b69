"""``syslog+udp://HOST:PORT?format=rfc5424|rfc3164&tag=TEMPLATE``: RFC 5424/3164 over UDP."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, field_validator

from logship.protocol.template import TagTemplate
from logship.sinks.common import DestinationConfig


def _labels(value: object) -> object:
    if isinstance(value, str) and value not in ("all", "none"):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


class SyslogConfig(DestinationConfig):
    type: Literal["syslog"] = "syslog"
    transport: Literal["udp"] = Field(
        default="udp", description="How messages travel: udp (RFC 5426), one message per datagram."
    )
    host: str = Field(description="Receiver host name or address.", examples=["127.0.0.1"])
    port: int = Field(default=514, ge=1, le=65535, description="Receiver port.")
    format: Literal["rfc5424", "rfc3164"] = Field(
        default="rfc5424",
        description="rfc5424: structured data with the enrichment, microsecond UTC timestamps; "
        "rfc3164: the old BSD form, for receivers that know nothing else.",
    )
    tag: str = Field(
        default="{{.Name}}",
        description="Docker's tag template: {{.ID}} {{.FullID}} {{.Name}} {{.ImageID}} "
        "{{.ImageFullID}} {{.ImageName}} {{.DaemonName}} {{.Hostname}} {{.Command}}. "
        "Fills APP-NAME and MSGID, as Docker's syslog driver does.",
        examples=["{{.ImageName}}/{{.Name}}/{{.ID}}"],
    )
    labels: Annotated[Literal["all", "none"] | list[str], BeforeValidator(_labels)] = Field(
        default="all",
        description="Container labels to carry in structured data: all, none, or a list of keys.",
    )
    structured_data_id: str = Field(
        default="logship@32473",
        # NAME@PEN: IDs without "@" are reserved for IANA (RFC 5424 section 7.2)
        pattern=r"^[!#-<>?A-\\^-~]+@[0-9][0-9.]*$",
        max_length=32,
        description="SD-ID of logship's structured data element (32473 is the example "
        "enterprise number of RFC 5612; use your own).",
    )
    max_message_bytes: int = Field(
        default=8192,
        ge=480,
        le=65507,
        description="Largest message sent; longer ones are cut, with a marker saying how much. "
        "8192 is rsyslog's default limit; UDP carries at most 65507.",
    )

    @field_validator("tag")
    @classmethod
    def _check_tag(cls, value: str) -> str:
        TagTemplate(value)
        return value

    def describe(self) -> str:
        return self.name or f"syslog+{self.transport}://{self.host}:{self.port}"
