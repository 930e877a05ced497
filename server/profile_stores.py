"""A profile namespace's own object-store keys, and the store they open, for the shared server.

With --serve-profiles a render for namespace N reads N's sources and stores N's pages with
N's keys, never the server's own: the `accesskey` and `secretkey` of N's Secret
`mlpipeline-minio-artifact` (made by KFP's profile controller; since KFP 2.15 with
SeaweedFS those keys may write only `private-artifacts/N/`). They are read through the
Kubernetes API (server/kube_api.py: the pod's service account), which needs `get` on that
one Secret name (the shared-server components' RBAC), and kept for --profile-keys-ttl
seconds in a bounded cache, so a rotated Secret is picked up within that time. A store
built on them is checked once (a read under N's page prefix) before it is used, so keys
the store refuses are said at once, naming the Secret.

Refusals are `RequestFailed`s that name the Secret: a namespace without it 404, one this
server may not read, keys missing from it or refused by the store 503. None of them ever
falls back to the server's own keys. Every call here blocks; callers run them in threads.
"""

from __future__ import annotations

import base64
import binascii
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cachetools import TTLCache

from .config import StoreConfig
from .errors import ErrorKind, RequestFailed
from .kube_api import short_error
from .profiles import SECRET_KEYS, SECRET_NAME, page_prefix, secret_of
from .store import S3Store, StoreUnavailable, s3_store

MAX_NAMESPACES = 4096
"""Namespaces whose keys (and store) are kept at once; the least recently used go first."""
FAILURE_TTL = 5.0
"""Seconds a refusal is repeated without asking again (a burst for a broken namespace asks
the Kubernetes API and the store once)."""
DEFAULT_REGION = "us-east-1"
"""The region signed for when OBJECTSTORECONFIG_REGION is empty: a namespace's keys may not
ask the store for it, and MinIO and SeaweedFS take any."""


@dataclass(frozen=True)
class ArtifactKeys:
    namespace: str
    access_key: str
    secret_key: str


SecretReader = Callable[[str], dict[str, str] | None]
"""Reads one namespace's Secret data (base64 values, as the API returns them); None when the
namespace has none. Raises for anything else."""


class ProfileStores:
    """Each profile namespace's keys and checked store, cached with a bound and a lifetime."""

    def __init__(
        self, config: StoreConfig, ttl: float, read_secret: SecretReader | None = None
    ) -> None:
        self._config = config
        self._read_secret = read_secret or KubeSecrets().read
        self._stores: TTLCache[str, S3Store] = TTLCache(MAX_NAMESPACES, ttl)
        self._failures: TTLCache[str, RequestFailed] = TTLCache(MAX_NAMESPACES, FAILURE_TTL)
        self._lock = threading.Lock()

    def store(self, namespace: str) -> S3Store:
        """`namespace`'s store, on its own keys, checked under its page prefix. Blocks."""
        with self._lock:
            found = self._stores.get(namespace)
            failed = self._failures.get(namespace)
        if found is not None:
            return found
        if failed is not None:
            raise RequestFailed(failed.kind, failed.detail)
        try:
            built = self._checked_store(namespace)
        except RequestFailed as failure:
            with self._lock:
                self._failures[namespace] = failure
            raise
        with self._lock:
            self._stores[namespace] = built
        return built

    def forget(self, namespace: str) -> None:
        """Drop what is kept for `namespace` (its keys were refused: read them again)."""
        with self._lock:
            self._stores.pop(namespace, None)

    def keys(self, namespace: str) -> ArtifactKeys:
        """`namespace`'s keys from its Secret; RequestFailed naming the Secret if none."""
        try:
            data = self._read_secret(namespace)
        except Exception as error:
            raise RequestFailed(
                ErrorKind.UNAVAILABLE,
                f"Cannot read Secret {secret_of(namespace)} (the namespace's object-store "
                f"keys) from the Kubernetes API: {short_error(error)}; the server's "
                "ServiceAccount needs get on that Secret (deploy/kustomize/shared-server-"
                "profile-services or shared-profile-namespace)",
            ) from None
        if data is None:
            raise RequestFailed(
                ErrorKind.NOT_FOUND,
                f"Namespace {namespace} has no Secret {SECRET_NAME}, so this server has no "
                "object-store keys to read its artifacts and store its pages with; is it a "
                "KFP profile (label pipelines.kubeflow.org/enabled=true)?",
            )
        values = {name: _decoded(data.get(name, "")) for name in SECRET_KEYS}
        missing = [name for name, value in values.items() if not value]
        if missing:
            raise RequestFailed(
                ErrorKind.UNAVAILABLE,
                f"Secret {secret_of(namespace)} has no {' or '.join(missing)}: the object-store "
                f"keys of namespace {namespace} are missing",
            )
        return ArtifactKeys(namespace, values["accesskey"], values["secretkey"])

    def _checked_store(self, namespace: str) -> S3Store:
        keys = self.keys(namespace)
        region = self._config.store_region or DEFAULT_REGION
        store = s3_store(self._config, keys.access_key, keys.secret_key, region)
        try:
            store.check(page_prefix(namespace))
        except StoreUnavailable as error:
            raise RequestFailed(
                ErrorKind.UNAVAILABLE,
                f"The keys of namespace {namespace} (Secret {secret_of(namespace)}) cannot "
                f"be used: {error}",
            ) from None
        return store


def _decoded(value: str) -> str:
    try:
        return base64.b64decode(value, validate=True).decode("utf-8").strip()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return ""


class KubeSecrets:
    """Reads `mlpipeline-minio-artifact` of a namespace on the Kubernetes API (get, by name)."""

    def __init__(self, api_client: Any = None) -> None:
        self._api_client = api_client
        self._lock = threading.Lock()

    def read(self, namespace: str) -> dict[str, str] | None:
        from kubernetes import client
        from kubernetes.client.exceptions import ApiException

        try:
            secret = client.CoreV1Api(self._client()).read_namespaced_secret(SECRET_NAME, namespace)
        except ApiException as error:
            if error.status == 404:
                return None
            raise
        return {name: str(value) for name, value in (secret.data or {}).items()}

    def _client(self) -> Any:
        with self._lock:
            if self._api_client is None:
                from .kube_api import kube_client

                self._api_client = kube_client()
            return self._api_client
