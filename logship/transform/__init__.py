"""What happens to lines between the source and the destinations: multiline joining. Sans-IO:
no sockets, no files, no asyncio, no clock of its own; the pipeline drives it."""
