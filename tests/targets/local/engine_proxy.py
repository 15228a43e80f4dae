"""A loopback stand-in for the wire between labtui and a Docker engine: a Unix socket that
forwards every connection to the real engine's socket, and `cut()` drops them all at once and
refuses new ones — what the client sees when the engine stops, crashes or loses its socket,
without stopping the engine other people's work runs on."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from pathlib import Path


def engine_socket() -> Path:
    host = os.environ.get("DOCKER_HOST", "")
    return Path(host.removeprefix("unix://")) if host.startswith("unix://") else \
        Path("/var/run/docker.sock")


class EngineProxy:
    """Forwards `path` (a Unix socket) to the engine's socket until `cut()`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._engine = engine_socket()
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._listener.bind(str(path))
        self._listener.listen(16)
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._cut = threading.Event()
        self._threads = [threading.Thread(target=self._accept, daemon=True)]
        self._threads[0].start()

    @property
    def url(self) -> str:
        return f"unix://{self.path}"

    def _accept(self) -> None:
        while not self._cut.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            upstream.connect(str(self._engine))
            with self._lock:
                if self._cut.is_set():
                    client.close()
                    upstream.close()
                    return
                self._sockets += [client, upstream]
            for source, target in ((client, upstream), (upstream, client)):
                thread = threading.Thread(target=self._pump, args=(source, target), daemon=True)
                thread.start()

    @staticmethod
    def _pump(source: socket.socket, target: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                target.sendall(data)
        with contextlib.suppress(OSError):
            target.shutdown(socket.SHUT_WR)

    def cut(self) -> None:
        """Drop every connection and stop answering."""
        self._cut.set()
        with self._lock:
            sockets, self._sockets = self._sockets, []
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        self.path.unlink(missing_ok=True)
