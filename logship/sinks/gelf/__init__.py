"""``gelf+udp|tcp|http|https://HOST:PORT``: GELF 1.1, as Docker's gelf driver writes it."""

from logship.sinks.base import DestinationType
from logship.sinks.gelf.config import GelfConfig

DESTINATION = DestinationType(
    name="gelf",
    config=GelfConfig,
    sink="logship.sinks.gelf.sink:GelfSink",
    schemes={
        "gelf": {"transport": "udp"},
        "gelf+udp": {"transport": "udp"},
        "gelf+tcp": {"transport": "tcp"},
        "gelf+http": {"transport": "http"},
        "gelf+https": {"transport": "https"},
    },
)
