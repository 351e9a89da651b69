"""Fluentd forward protocol destination: ``forward://``, ``forward+tls://``. (stub: to be filled)"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from logship.sinks.common import NetworkDestinationConfig


class ForwardConfig(NetworkDestinationConfig):
    type: Literal["forward"] = "forward"
    transport: Literal["tcp", "tls"] = Field(default="tcp")
    port: int = Field(default=24224, ge=1, le=65535, description="Receiver port.")
