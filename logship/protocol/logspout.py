"""The text layout of logspout's ``/logs`` stream, for those who read it so. No I/O.

Records of several containers: ``NAME|MESSAGE`` per line, the name right-aligned in a column
at least 16 wide that grows with the longest name seen, each name in a colour of its own and
the colour reset at the end of the line (``colors=off``: no colours). Records of one container
(``/logs/id:PREFIX``): the message alone. What a container wrote is shown, never acted on: its
control characters are escaped as in every text output of logship.
"""

from __future__ import annotations

from collections.abc import Iterable

from logship.protocol.json import escape_controls
from logship.record import Record

MIN_NAME_WIDTH = 16
RESET = "\x1b[0m"
# cyan, magenta, blue, yellow, green, red, white: plain, then bright
_COLOURS = tuple(
    f"\x1b[{weight}3{code}m" for weight in ("", "1;") for code in (6, 5, 4, 3, 2, 1, 7)
)


class LogspoutText:
    """Records -> lines as logspout's ``/logs`` writes them; one per reader (it remembers the
    column's width and each name's colour)."""

    def __init__(self, *, colors: bool = True, one_container: bool = False) -> None:
        self.colors = colors
        self.one_container = one_container
        self.width = MIN_NAME_WIDTH
        self._colour_of: dict[str, str] = {}

    def colour(self, name: str) -> str:
        colour = self._colour_of.get(name)
        if colour is None:
            colour = self._colour_of[name] = _COLOURS[len(self._colour_of) % len(_COLOURS)]
        return colour

    def encode(self, records: Iterable[Record]) -> list[bytes]:
        out: list[bytes] = []
        for r in records:
            message = escape_controls(r.message)
            if self.one_container:
                out.append(f"{message}\n".encode())
                continue
            name = escape_controls(r.meta.name)
            self.width = max(self.width, len(name))
            line = f"{name:>{self.width}}|{message}"
            out.append(
                f"{self.colour(name)}{line}{RESET}\n".encode()
                if self.colors
                else (line + "\n").encode()
            )
        return out
