"""Elasticsearch / OpenSearch ``_bulk`` destination. (stub: to be filled)"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from logship.sinks.common import NetworkDestinationConfig


class ElasticsearchConfig(NetworkDestinationConfig):
    type: Literal["elasticsearch"] = "elasticsearch"
    scheme: Literal["http", "https"] = Field(default="http")
    port: int = Field(default=9200, ge=1, le=65535, description="Receiver port.")
