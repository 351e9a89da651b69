"""``logship tail``: every container's lines, live, on a terminal (see :mod:`.command`)."""
