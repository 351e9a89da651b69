"""``syslog+udp|tcp|tls://HOST:PORT``: RFC 5424 or RFC 3164 messages, as Docker's syslog driver
writes them."""

from logship.sinks.base import DestinationType
from logship.sinks.syslog.config import SyslogConfig

DESTINATION = DestinationType(
    name="syslog",
    config=SyslogConfig,
    sink="logship.sinks.syslog.sink:SyslogSink",
    schemes={
        "syslog": {"transport": "udp"},
        "syslog+udp": {"transport": "udp"},
        "syslog+tcp": {"transport": "tcp"},
        "syslog+tls": {"transport": "tls"},
    },
)
