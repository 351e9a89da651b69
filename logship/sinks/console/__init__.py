"""``console://?format=text|json``: records on standard output."""

from logship.sinks.base import DestinationType
from logship.sinks.console.config import ConsoleConfig

DESTINATION = DestinationType(
    name="console",
    config=ConsoleConfig,
    sink="logship.sinks.console.sink:ConsoleSink",
    schemes={"console": {}},
)
