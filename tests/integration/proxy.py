"""A TCP proxy between a client and a server that can lose answers, as a network does.

`FlakyProxy` forwards every byte both ways, on its own loopback port. Told to
`drop_answers(n)`, it lets the next n requests reach the server whole, waits for the
server's answer to begin (so the server has taken the request), and then closes both
connections instead of forwarding it: the client sees its connection reset with no answer,
the case a retry cannot tell from a request that never arrived. `refuse_after_drop` makes
it then refuse every connection (a server away, e.g. restarting) until `forward_to` names
a server again; `forward_to(None)` refuses from now on.
"""

from __future__ import annotations

import contextlib
import socket
import threading

CHUNK = 65536


class FlakyProxy:
    """Forwards 127.0.0.1:<port> to an upstream (host, port), dropping answers on demand."""

    def __init__(self, upstream: tuple[str, int] | None, port: int = 0) -> None:
        self._upstream = upstream
        self._lock = threading.Lock()
        self._to_drop = 0
        self._refuse_after_drop = False
        self.dropped = 0
        """Answers dropped so far."""
        self.refused = 0
        """Connections refused while no upstream was set."""
        self._listener = socket.create_server(("127.0.0.1", port))
        self.port = self._listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._open: set[socket.socket] = set()
        self._closing = False
        threading.Thread(target=self._accept, daemon=True).start()

    def drop_answers(self, count: int, refuse_after_drop: bool = False) -> None:
        with self._lock:
            self._to_drop = count
            self._refuse_after_drop = refuse_after_drop

    def forward_to(self, upstream: tuple[str, int] | None) -> None:
        with self._lock:
            self._upstream = upstream

    def close(self) -> None:
        self._closing = True
        self._listener.close()
        with self._lock:
            sockets = list(self._open)
        for sock in sockets:
            _close(sock)

    # -- the proxying ---------------------------------------------------------------

    def _accept(self) -> None:
        while not self._closing:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        with self._lock:
            upstream = self._upstream
        if upstream is None:
            self.refused += 1
            _close(client)
            return
        try:
            server = socket.create_connection(upstream, timeout=10)
        except OSError:
            self.refused += 1
            _close(client)
            return
        server.settimeout(None)
        with self._lock:
            self._open.update((client, server))
        threading.Thread(target=self._pipe, args=(client, server), daemon=True).start()
        try:
            while True:
                data = server.recv(CHUNK)
                if not data:
                    break
                if self._drop_this_answer():
                    break  # the server answered; the client never hears it
                client.sendall(data)
        except OSError:
            pass
        finally:
            self._end(client, server)

    def _drop_this_answer(self) -> bool:
        with self._lock:
            if self._to_drop <= 0:
                return False
            self._to_drop -= 1
            self.dropped += 1
            if self._to_drop == 0 and self._refuse_after_drop:
                self._upstream = None
            return True

    def _pipe(self, source: socket.socket, target: socket.socket) -> None:
        try:
            while True:
                data = source.recv(CHUNK)
                if not data:
                    break
                target.sendall(data)
        except OSError:
            pass
        finally:
            self._end(source, target)

    def _end(self, *sockets: socket.socket) -> None:
        with self._lock:
            self._open.difference_update(sockets)
        for sock in sockets:
            _close(sock)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()
