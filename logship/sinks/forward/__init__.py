"""``forward://HOST:PORT``, ``forward+tls://HOST:PORT``: Fluentd's forward protocol."""

from logship.sinks.base import DestinationType
from logship.sinks.forward.config import ForwardConfig

DESTINATION = DestinationType(
    name="forward",
    config=ForwardConfig,
    sink="logship.sinks.forward.sink:ForwardSink",
    schemes={"forward": {"transport": "tcp"}, "forward+tls": {"transport": "tls"}},
)
