"""GELF 1.1 destinations over UDP, TCP and HTTP(S). (stub: to be filled)"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from logship.sinks.common import NetworkDestinationConfig


class GelfConfig(NetworkDestinationConfig):
    type: Literal["gelf"] = "gelf"
    transport: Literal["udp", "tcp", "http", "https"] = Field(default="udp")
    port: int = Field(default=12201, ge=1, le=65535, description="Receiver port.")
