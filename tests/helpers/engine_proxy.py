"""A TCP front for the engine's unix socket, whose connections a test can cut or freeze."""

from __future__ import annotations

import socket
import time


class EngineProxy:
    """``tcp://127.0.0.1:PORT`` in front of the engine's unix socket, whose connections a test
    can cut (as a daemon restart or a network blip would) or freeze (from then on they deliver
    nothing and stay open, as a follow stream does when Docker 20.10 misses a log rotation;
    connections opened later work)."""

    def __init__(self, socket_path: str = "/var/run/docker.sock") -> None:
        import threading

        self.socket_path = socket_path
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port: int = self.listener.getsockname()[1]
        self.connections: list[socket.socket] = []
        self.accepted = 0
        self.generation = 0  # connections of a generation <= frozen deliver nothing
        self.frozen = -1
        self._lock = threading.Lock()
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"tcp://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        import threading

        while not self._closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            upstream.connect(self.socket_path)
            with self._lock:
                self.accepted += 1
                self.connections += [client, upstream]
            generation = self.generation
            for a, b, freezes in ((client, upstream, False), (upstream, client, True)):
                threading.Thread(
                    target=self._pipe, args=(a, b, generation if freezes else None), daemon=True
                ).start()

    def freeze(self) -> None:
        """From now on, the connections open now deliver nothing from the engine."""
        self.frozen = self.generation
        self.generation += 1

    def _pipe(self, source: socket.socket, target: socket.socket, generation: int | None) -> None:
        try:
            while data := source.recv(65536):
                while generation is not None and generation <= self.frozen and not self._closed:
                    time.sleep(0.05)  # frozen: hold on to it, say nothing, keep it open
                target.sendall(data)
        except OSError:
            pass
        for s in (source, target):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def cut_all(self) -> None:
        """Break every open connection, as if the engine went away for a moment."""
        with self._lock:
            connections, self.connections = self.connections, []
        for s in connections:  # the pipe threads see the end and close them
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self) -> None:
        self._closed = True
        self.listener.close()
        self.cut_all()
