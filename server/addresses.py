"""Network addresses as people write them: `host:port` (an IPv6 host in brackets), and the
base URL that links to this server's HTTP port start with.

Written once: listening, the object store's endpoint, probing Kafka's bootstrap servers
and every link handed out (stored pages over HTTP and gRPC) go through here.
"""

from __future__ import annotations

import socket


def host_port(host: str, port: int) -> str:
    """`host:port`, with an IPv6 address in brackets (`[::1]:8887`)."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def split_host_port(address: str, default_host: str = "localhost") -> tuple[str, int]:
    """`host:port` (or `[v6]:port`) as its parts; ValueError when there is no port number."""
    host, _, port = address.rpartition(":")
    return host.strip("[]") or default_host, int(port)


def base_url(public_url: str, scheme: str, host: str) -> str:
    """Where browsers reach this server: --public-url when set, else `scheme://host`."""
    return public_url or f"{scheme}://{host}"


def own_base_url(public_url: str, http_port: int) -> str:
    """The base URL for links handed out where no request says which Host it came to (gRPC):
    --public-url when set, else this machine's name and the HTTP port."""
    return base_url(public_url, "http", host_port(socket.gethostname(), http_port))
