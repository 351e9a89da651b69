"""``elasticsearch+http(s)://HOST:PORT`` (or ``opensearch+...``): the ``_bulk`` API."""

from logship.sinks.base import DestinationType
from logship.sinks.elasticsearch.config import ElasticsearchConfig

DESTINATION = DestinationType(
    name="elasticsearch",
    config=ElasticsearchConfig,
    sink="logship.sinks.elasticsearch.sink:ElasticsearchSink",
    schemes={
        "elasticsearch+http": {"scheme": "http"},
        "elasticsearch+https": {"scheme": "https"},
        "opensearch+http": {"scheme": "http"},
        "opensearch+https": {"scheme": "https"},
    },
)
