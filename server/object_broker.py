"""The server's side of kernels' object-store access: list a prefix, presign one read.

Kernels hold no object-store credentials (kernels/object_access.py says why and defines
the protocol). Each kernel gets a Unix socket in its own folder; this module answers on
it, with the server's own settings: `minio://` with the KFP API server's
OBJECTSTORECONFIG_* (as for stored pages), `s3://` with them too when set, else AWS with
the server's AWS_* variables. A request for a kind of source the operator left out of
--source-schemes is refused, as the kernel would refuse it. Store calls block, so they
run in a thread pool of their own, never on the event loop.

A socket answers only while a render runs on its kernel (kernels/kernel.py tells it whose
render that is), and as that render's: with --serve-profiles, a render for a profile
namespace is answered with that namespace's own keys (server/profile_stores.py), never the
server's, and no key in another namespace's private folder is signed or listed, whatever
the keys would allow (server/profiles.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from typing import Any

from kfp_viz_kernels.object_access import ListedObject
from minio import Minio
from minio.error import S3Error

from .addresses import host_port
from .config import Config
from .errors import RequestFailed
from .profile_stores import ProfileStores
from .profiles import foreign_owner

log = logging.getLogger(__name__)

PRESIGN_EXPIRY = dt.timedelta(minutes=10)
MAX_OBJECTS = 200_000
"""Most objects one listing returns; a pattern matching more is refused with a message."""
MAX_REQUEST = 64 * 1024


class BrokerRefusal(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class KernelSocket:
    """One kernel's socket, and whose render it answers for (kernels.kernel.ObjectAccess)."""

    def __init__(self) -> None:
        self.namespace: str | None = None
        self.server: asyncio.AbstractServer | None = None

    def serve(self, namespace: str | None) -> None:
        self.namespace = namespace

    def close(self) -> None:
        if self.server is not None:
            self.server.close()


class ObjectBroker:
    """Answers kernels' list and presign requests (one Unix socket per kernel)."""

    def __init__(self, config: Config, profiles: ProfileStores | None = None) -> None:
        self._config = config
        self._profiles = profiles
        """Profile namespaces' own keys (--serve-profiles); None: every render is the server's."""
        self._executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="object-broker")

    async def listen(self, path: str) -> KernelSocket:
        """Answer on a new Unix socket at `path` (in one kernel's folder) until closed."""
        socket = KernelSocket()

        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await self._serve(reader, writer, socket)

        socket.server = await asyncio.start_unix_server(serve, path=path, limit=MAX_REQUEST)
        return socket

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def _serve(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, socket: KernelSocket
    ) -> None:
        try:
            line = await reader.readline()
            namespace = socket.namespace  # whose render is running as the request arrives
            loop = asyncio.get_running_loop()
            answer = await loop.run_in_executor(self._executor, self.answer, line, namespace)
            writer.write(json.dumps(answer).encode() + b"\n")
            await writer.drain()
        except (OSError, ValueError, asyncio.LimitOverrunError, asyncio.IncompleteReadError):
            pass  # the kernel went away or sent garbage: nothing to answer
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    def answer(self, line: bytes, namespace: str | None = "") -> dict[str, Any]:
        """The answer to one request line, for a render of `namespace` ("" the server's own,
        None no render). Blocks (store calls)."""
        try:
            if namespace is None:
                raise BrokerRefusal("NoRender", "no render is running on this kernel")
            request = json.loads(line)
            if not isinstance(request, dict):
                raise BrokerRefusal("InvalidRequest", "a request is a JSON object")
            return self._answer(request, namespace)
        except RequestFailed as failure:  # the namespace's keys: missing, unreadable, refused
            return {"error": {"code": "NamespaceKeys", "message": failure.detail}}
        except BrokerRefusal as refusal:
            return {"error": {"code": refusal.code, "message": refusal.message}}
        except S3Error as error:
            return {"error": {"code": error.code, "message": error.message}}
        except (ValueError, KeyError, TypeError) as error:
            return {"error": {"code": "InvalidRequest", "message": str(error)}}
        except Exception as error:  # the store is unreachable, or answers strangely
            return {"error": {"code": "", "message": f"{type(error).__name__}: {error}"}}

    def _answer(self, request: dict[str, Any], namespace: str) -> dict[str, Any]:
        scheme = str(request.get("scheme"))
        op = request.get("op")
        if op not in ("list", "get"):
            raise BrokerRefusal("InvalidRequest", f"unknown op {op!r}")
        bucket = str(request["bucket"])
        key = str(request["key"] if op == "get" else request.get("prefix", ""))
        _check_owner(bucket, key, namespace)
        client = self._client(scheme, namespace)
        if op == "list":
            return self._list(client, bucket, key, request, namespace)
        return {"url": client.presigned_get_object(bucket, key, expires=PRESIGN_EXPIRY)}

    def _list(
        self, client: Minio, bucket: str, prefix: str, request: dict[str, Any], namespace: str
    ) -> dict[str, Any]:
        limit = min(int(request.get("limit") or MAX_OBJECTS), MAX_OBJECTS)
        found = client.list_objects(bucket, prefix=prefix, recursive=bool(request.get("recursive")))
        objects: list[ListedObject] = []
        for item in found:
            name = item.object_name or ""
            if namespace and foreign_owner(name, namespace) is not None:
                continue  # another namespace's, listed by keys that may see it: never shown
            if len(objects) >= limit:
                if limit == MAX_OBJECTS:
                    raise BrokerRefusal(
                        "TooManyObjects",
                        f"more than {MAX_OBJECTS} objects match; name fewer (a longer prefix)",
                    )
                break
            objects.append({"name": name, "dir": bool(item.is_dir)})
        return {"objects": objects}

    def _client(self, scheme: str, namespace: str) -> Minio:
        if scheme not in ("minio", "s3"):
            raise BrokerRefusal("InvalidRequest", f"{scheme}:// is not an object store")
        if scheme not in self._config.source_schemes:
            raise BrokerRefusal(
                "SourceRefused",
                f"this server reads only {', '.join(self._config.source_schemes)} sources "
                "(--source-schemes)",
            )
        if namespace and self._profiles is not None:
            return self._profiles.store(namespace).client  # its own keys, or RequestFailed
        return object_store_client(self._config, scheme)


def _check_owner(bucket: str, key: str, namespace: str) -> None:
    """Refuse a key (or listing prefix) in another namespace's private folder."""
    if not namespace:
        return
    owner = foreign_owner(key, namespace)
    if owner is not None:
        whose = f"namespace {owner}'s" if owner else "another namespace's"
        raise BrokerRefusal(
            "AccessDenied",
            f"{bucket}/{key} may be in {whose} private folder; this render is namespace "
            f"{namespace}'s",
        )


def object_store_client(config: Config, scheme: str) -> Minio:
    """A client for `minio://` (KFP's object store, from its settings) or `s3://` (the same
    store when one is set, else AWS with the standard AWS_* variables)."""
    if config.store_host:
        address = host_port(config.store_host, config.store_port)
        return _minio(address, config.store_secure, config.store_access_key,
                      config.store_secret_key, config.store_region)  # fmt: skip
    if scheme == "s3":
        env = os.environ
        return _minio(
            "s3.amazonaws.com", True, env.get("AWS_ACCESS_KEY_ID", ""),
            env.get("AWS_SECRET_ACCESS_KEY", ""),
            env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "",
        )  # fmt: skip
    raise BrokerRefusal(
        "NoObjectStore",
        "minio:// sources need the object store settings: set OBJECTSTORECONFIG_HOST (and "
        "_PORT, _ACCESSKEY, _SECRETACCESSKEY) on the visualization server",
    )


@cache
def _minio(address: str, secure: bool, access: str, secret: str, region: str) -> Minio:
    return Minio(
        address,
        access_key=access or None,
        secret_key=secret or None,
        secure=secure,
        region=region or None,
    )
