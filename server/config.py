"""Every setting the server reads, declared once: flag, environment variable, default, meaning.

Each setting is a field of one of four groups (server, kernel pool, page store, live
progress) and carries its row of the settings table as the field's metadata, the way
nbclient declares its traits: the table (`SETTINGS`), `Config` (the groups together),
`--help` and the Markdown table of the docs (`settings_markdown`) all come from those
declarations, and docs/operators/settings.md is generated from them (a test checks it is current),
so none can drift from another.

Precedence: command-line flag, then environment variable, then default.

Environment names follow what KFP operators already use where one exists
(`KERNEL_TIMEOUT` from the stock server, `ALLOW_CUSTOM_VISUALIZATIONS` from the
API server). A bad value stops the server at start with a message naming the
flag, the variable and the value.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import os
import re
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from kfp_viz.events import NAMESPACE
from kfp_viz_kernels.source_policy import (
    ROOTS_VARIABLE,
    SCHEMES,
    SCHEMES_VARIABLE,
    SYSTEM_FOLDERS,
    parse_roots,
    parse_schemes,
)

from .sizing import ContainerLimits, Sizing, default_kernel_memory, default_pool_size


class ConfigError(ValueError):
    """A setting has a value the server cannot use."""


@functools.cache
def container_limits() -> ContainerLimits:
    """The cgroup's CPU and memory limits, read once per process (server/sizing.py)."""
    return ContainerLimits.read()


def _default_pool_size(_: Mapping[str, Any]) -> Sizing:
    return default_pool_size(container_limits())


def _default_kernel_memory(values: Mapping[str, Any]) -> Sizing:
    return default_kernel_memory(container_limits(), values["pool_size"])


def parse_port(text: str) -> int:
    port = parse_int(text)
    if not 0 <= port <= 65535:
        raise ValueError("expected a TCP port number, 0 to 65535 (0 picks a free port)")
    return port


def parse_int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValueError("expected a whole number") from None


def parse_positive_int(text: str) -> int:
    value = parse_int(text)
    if value < 1:
        raise ValueError("expected a whole number of at least 1")
    return value


def parse_non_negative_int(text: str) -> int:
    value = parse_int(text)
    if value < 0:
        raise ValueError("expected a whole number of at least 0")
    return value


def parse_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError("expected a number of seconds") from None
    if not value > 0 or value == float("inf"):
        raise ValueError("expected a positive, finite number of seconds")
    return value


_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kKMGT]i?|[KMGT]iB|)\s*$")
_UNITS = {
    "": 1,
    "k": 10**3, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12,
    "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40,
    "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40,
}  # fmt: skip


def parse_bytes(text: str) -> int:
    """A size as Kubernetes writes it: 2G = 2*10^9, 2Gi = 2*2^30, plain numbers are bytes."""
    match = _SIZE.match(text)
    if match is None:
        raise ValueError("expected a size such as 512Mi, 2G or 1048576 (bytes)")
    return int(float(match.group(1)) * _UNITS[match.group(2)])


def parse_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise ValueError("expected true or false")


def parse_inline_limit(text: str) -> int | None:
    """`auto` (None: computed per request to fit KFP's 4 MiB reply) or a size in bytes."""
    if text.strip().lower() == "auto":
        return None
    return parse_bytes(text)


def parse_store_prefix(text: str) -> str:
    """A key prefix such as `visualizations/`: relative, no `..`, printable ASCII."""
    if (
        text.startswith("/")
        or ".." in text.split("/")
        or not all(ch.isascii() and ch.isprintable() and ch not in "\\" for ch in text)
    ):
        raise ValueError("expected a relative key prefix such as visualizations/")
    return text


MAX_PRESIGN_SECONDS = 7 * 86400  # the longest S3 signature V4 allows


def parse_presign_expiry(text: str) -> float:
    seconds = parse_seconds(text)
    if not 1 <= seconds <= MAX_PRESIGN_SECONDS:
        raise ValueError(f"expected 1 to {MAX_PRESIGN_SECONDS} seconds (7 days, the S3 maximum)")
    return seconds


def default_store_folder() -> str:
    return os.path.join(tempfile.gettempdir(), "kfp-viz-pages")


def default_sdk_dist_dir() -> str:
    """Where the SDK's distributions are beside the installed server: the image build and
    scripts/sdk_dist.py put them in the environment's share/kfp-viz/sdk."""
    return os.path.join(sys.prefix, "share", "kfp-viz", "sdk")


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def parse_log_level(text: str) -> str:
    if text.upper() not in LOG_LEVELS:
        raise ValueError(f"expected one of {', '.join(LOG_LEVELS)}")
    return text.upper()


def parse_topic(text: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9._-]{1,249}", text):
        raise ValueError("expected a Kafka topic name: 1 to 249 letters, digits, '.', '_', '-'")
    return text


def parse_namespace(text: str) -> str:
    if not NAMESPACE.match(text):
        raise ValueError("expected a Kubernetes namespace name (lower-case letters, digits, '-')")
    return text


def parse_sandbox(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered not in ("auto", "off"):
        raise ValueError("expected auto (Landlock as far as this Linux offers it) or off")
    return lowered == "auto"


PORTS_AUTO = "auto"


def parse_connect_ports(text: str) -> str:
    """`auto`, `any`, `none`, or comma-separated TCP ports (checked, kept as text)."""
    lowered = text.strip().lower()
    if lowered in (PORTS_AUTO, "any", "none"):
        return lowered
    try:
        ports = [int(p) for p in lowered.split(",") if p.strip()]
    except ValueError:
        ports = []
    if not ports or not all(1 <= p <= 65535 for p in ports):
        raise ValueError("expected auto, any, none, or TCP ports such as 443,9000")
    return ",".join(str(p) for p in sorted(set(ports)))


def parse_names(text: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    bad = [n for n in names if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", n)]
    if bad:
        raise ValueError(f"{bad[0]!r} is not an environment variable name")
    return names


def parse_url(text: str) -> str:
    if text and not re.fullmatch(r"https?://[^\s/?#]+(/[^\s?#]*)?", text):
        raise ValueError("expected an http:// or https:// URL")
    return text.rstrip("/")


def parse_index_topic(text: str) -> str:
    """A topic name, in which `{topic}` stands for the progress topic's, or `off`."""
    if text != "off":
        parse_topic(text.replace("{topic}", "t"))
    return text


def parse_log_pattern(text: str) -> str:
    """Where TensorBoard logs are: `minio://`/`s3://` bucket and prefix, or a local folder,
    with `{run_id}` in it (a trailing `**` or `/` means the same: every file below)."""
    if not text:
        return text
    if "{run_id}" not in text:
        raise ValueError(
            "expected a pattern with {run_id} in it, e.g. minio://mlpipeline/tb/{run_id}/"
        )
    if "://" in text and not re.match(r"(minio|s3)://[a-z0-9][a-z0-9.-]{1,62}/", text):
        raise ValueError("expected minio://BUCKET/PREFIX, s3://BUCKET/PREFIX or a local folder")
    if "://" not in text and not text.startswith("/"):
        raise ValueError("expected an absolute local folder, or minio:// or s3://")
    return text


@dataclass(frozen=True)
class Setting:
    """One row of the settings table: how a person sets a value, and what it means."""

    name: str
    flag: str
    env: str
    parse: Callable[[str], Any]
    default: Any
    """A value, or a function of the settings resolved so far."""
    help: str
    default_text: str
    is_switch: bool = False


_ROW = "kfp_viz_setting"


def setting(
    flag: str,
    env: str,
    parse: Callable[[str], Any],
    default: Any,
    help: str,
    default_text: str,
    *,
    switch: bool = False,
) -> Any:
    """A `Config` field declared with its row of the settings table (its name is the field's).

    The field has no default of its own: every value is resolved by `load_config`.
    """
    row = Setting("", flag, env, parse, default, help, default_text, switch)
    return field(metadata={_ROW: row})


def settings_of(group: type[Any]) -> tuple[Setting, ...]:
    """The rows a settings dataclass declares, in order, each named after its field."""
    return tuple(
        dataclasses.replace(item.metadata[_ROW], name=item.name)
        for item in fields(group)
        if _ROW in item.metadata
    )


# fmt: off
@dataclass(frozen=True)
class ServerConfig:
    """The process and its protocols: where it listens, what a request may ask."""

    host: str = setting("--host", "VIZ_HOST", str, "0.0.0.0",
                        "Address both ports listen on.", "0.0.0.0")
    http_port: int = setting("--http-port", "VIZ_HTTP_PORT", parse_port, 8888,
                             "HTTP port: KFP's form contract, /readyz, /metrics.", "8888")
    grpc_port: int = setting("--grpc-port", "VIZ_GRPC_PORT", parse_port, 8887,
                             "gRPC port: api.VisualizationService, health, reflection.", "8887")
    timeout: float = setting(
        "--timeout", "KERNEL_TIMEOUT", parse_seconds, 100.0,
        "Render timeout in seconds when the request sets none.", "100")
    max_timeout: float = setting(
        "--max-timeout", "KERNEL_MAX_TIMEOUT", parse_seconds,
        lambda s: max(600.0, s["timeout"]),
        "Cap on a request's own timeout (X-Visualization-Timeout header or gRPC deadline).",
        "600")
    allow_custom: bool = setting(
        "--allow-custom-visualizations", "ALLOW_CUSTOM_VISUALIZATIONS", parse_bool, False,
        "Run `custom` visualizations and roc_curve's target_lambda (both are code).",
        "false", switch=True)
    max_body_size: int = setting(
        "--max-body-size", "MAX_BODY_SIZE", parse_bytes, 32 * 2**20,
        "Largest request body (HTTP) or message (gRPC); larger ones get 413.", "32Mi")
    shutdown_grace: float = setting(
        "--shutdown-grace", "SHUTDOWN_GRACE", parse_seconds, 20.0,
        "On SIGTERM, seconds running renders may take to finish before they are cancelled.",
        "20")
    log_level: str = setting("--log-level", "LOG_LEVEL", parse_log_level, "INFO",
                             "Logging detail: DEBUG, INFO, WARNING or ERROR.", "INFO")
    public_url: str = setting(
        "--public-url", "PUBLIC_URL", parse_url, "",
        "Base URL browsers reach this server's HTTP port at: links to stored pages (empty = "
        "the Host the request came to) and live updates in the `progress` view (empty = "
        "snapshot only).", "none")
    sdk_dist_dir: str = setting(
        "--sdk-dist-dir", "SDK_DIST_DIR", str, lambda _: default_sdk_dist_dir(),
        "Folder of the kfp-viz SDK's wheel and sdist, served to pipeline steps as a package "
        "index at /simple/ (public: it serves those files only).",
        "<the environment's prefix>/share/kfp-viz/sdk, which the image build fills")
# fmt: on


# fmt: off
@dataclass(frozen=True)
class PoolConfig:
    """The kernel pool: how many kernels, what each may use, read and reach."""

    pool_size: int = setting(
        "--pool-size", "KERNEL_POOL_SIZE", parse_positive_int, _default_pool_size,
        "Jupyter kernels rendering at once.",
        "from the container's limits: 1 per CPU of a CPU limit (at least 2), else 2 to 4; "
        "no more than fit a memory limit")
    max_queue: int = setting(
        "--max-queue", "MAX_QUEUE", parse_non_negative_int, lambda s: 4 * s["pool_size"],
        "Requests that may wait for a kernel; beyond that, 503 with Retry-After.",
        "4 x pool size")
    kernel_memory_limit: int = setting(
        "--kernel-memory-limit", "KERNEL_MEMORY_LIMIT", parse_bytes, _default_kernel_memory,
        "Memory per kernel (512Mi, 2G, ...; 0 = no limit). Enforced in the kernel process; "
        "a kernel above 90% of it after a render is replaced.",
        "2G, or an equal share of the container's memory limit")
    max_renders: int = setting(
        "--max-renders-per-kernel", "KERNEL_MAX_RENDERS", parse_positive_int, 500,
        "Renders after which a kernel is replaced by a fresh one.", "500")
    reuse_custom_kernels: bool = setting(
        "--reuse-custom-kernels", "REUSE_CUSTOM_KERNELS", parse_bool, False,
        "Reset and reuse a kernel after custom code instead of replacing it: faster, but "
        "custom code can then leave changes inside imported modules.",
        "false", switch=True)
    kernel_sandbox: bool = setting(
        "--kernel-sandbox", "KERNEL_SANDBOX", parse_sandbox, True,
        "Confine every kernel with Landlock (files, TCP, signals; see "
        "docs/operators/security.md): auto uses what this Linux offers, off runs kernels with the "
        "server's rights.", "auto")
    kernel_connect_ports: str = setting(
        "--kernel-connect-ports", "KERNEL_CONNECT_PORTS", parse_connect_ports, PORTS_AUTO,
        "TCP ports kernels may connect to (Landlock ABI 4+): any, none, or a list such as "
        "443,9000; auto: any when http, https or gs sources are allowed, else only the "
        "object store's port.", "auto")
    kernel_env: tuple[str, ...] = setting(
        "--kernel-env", "KERNEL_ENV", parse_names, (),
        "Names of the server's environment variables kernels also get, comma-separated "
        "(e.g. GOOGLE_APPLICATION_CREDENTIALS); they get no others beyond PATH, locale, "
        "proxies and CA bundles.", "none")
    max_output_size: int = setting(
        "--max-output-size", "MAX_OUTPUT_SIZE", parse_bytes, 32 * 2**20,
        "Output one render may produce (prints, displays); past it the rest is dropped "
        "and the page says where it was cut.", "32Mi")
    source_schemes: tuple[str, ...] = setting(
        "--source-schemes", SCHEMES_VARIABLE, parse_schemes, SCHEMES,
        "Kinds of source the built-in types may read, comma-separated.", ",".join(SCHEMES))
    local_source_roots: tuple[str, ...] = setting(
        "--local-source-roots", ROOTS_VARIABLE, parse_roots, (),
        "Folders local sources must be in, comma-separated (symbolic links resolved); "
        f"empty: any folder but the system ones ({', '.join(SYSTEM_FOLDERS)}).", "")
# fmt: on


# fmt: off
@dataclass(frozen=True)
class StoreConfig:
    """Pages past the inline limit: the limit, and the store that keeps them."""

    inline_limit: int | None = setting(
        "--inline-limit", "INLINE_LIMIT", parse_inline_limit, None,
        "Largest page sent inline; larger pages are stored and referenced. `auto` keeps "
        "KFP's whole gRPC reply (page + echoed source and arguments) under 4 MiB; a value "
        "under 4 MiB only lowers that, one over it replaces it (an API server with a "
        "raised cap).", "auto")
    store_host: str = setting(
        "--object-store-host", "OBJECTSTORECONFIG_HOST", str, "",
        "S3 / MinIO host for pages past the inline limit; empty = the local folder "
        "--store-folder.", "none")
    store_port: int = setting("--object-store-port", "OBJECTSTORECONFIG_PORT", parse_port, 9000,
                              "Object store port.", "9000")
    store_secure: bool = setting(
        "--object-store-secure", "OBJECTSTORECONFIG_SECURE", parse_bool, False,
        "Talk to the object store over TLS.", "false", switch=True)
    store_bucket: str = setting(
        "--object-store-bucket", "OBJECTSTORECONFIG_BUCKETNAME", str, "mlpipeline",
        "Bucket for stored pages (made if missing).", "mlpipeline")
    store_access_key: str = setting(
        "--object-store-access-key", "OBJECTSTORECONFIG_ACCESSKEY", str, "",
        "Object store access key (secret mlpipeline-minio-artifact, key accesskey).", "none")
    store_secret_key: str = setting(
        "--object-store-secret-key", "OBJECTSTORECONFIG_SECRETACCESSKEY", str, "",
        "Object store secret key (prefer the environment: flags show in process lists).",
        "none")
    store_region: str = setting("--object-store-region", "OBJECTSTORECONFIG_REGION", str, "",
                                "Object store region; empty = ask the store.", "none")
    store_prefix: str = setting(
        "--store-prefix", "STORE_PREFIX", parse_store_prefix, "visualizations/",
        "Key prefix of stored pages (keys are <prefix><sha256>.html).", "visualizations/")
    store_retention_days: int = setting(
        "--store-retention-days", "STORE_RETENTION_DAYS", parse_non_negative_int, 30,
        "Days stored pages are kept: a lifecycle rule on the prefix (folder store: pruned "
        "hourly); 0 = forever.", "30")
    presign_expiry: float = setting(
        "--presign-expiry", "PRESIGN_EXPIRY", parse_presign_expiry, 86400.0,
        "Seconds a stored page's presigned URL stays valid (at most 7 days).", "86400")
    store_folder: str = setting(
        "--store-folder", "STORE_FOLDER", str, lambda _: default_store_folder(),
        "Folder for stored pages when no object store host is set.", "$TMPDIR/kfp-viz-pages")
# fmt: on


# fmt: off
@dataclass(frozen=True)
class ProgressConfig:
    """Live progress: where events come from, whose they are, how watchers are fed."""

    kafka_bootstrap_servers: str = setting(
        "--kafka-bootstrap-servers", "KAFKA_BOOTSTRAP_SERVERS", str, "",
        "Kafka brokers (host:port,...) carrying progress events; empty = the in-process bus.",
        "none (in-process bus)")
    kafka_progress_topic: str = setting(
        "--kafka-progress-topic", "KAFKA_PROGRESS_TOPIC", parse_topic, "kfp-progress",
        "Kafka topic of progress events.", "kfp-progress")
    kafka_run_index_topic: str = setting(
        "--kafka-run-index-topic", "KAFKA_RUN_INDEX_TOPIC", parse_index_topic, "{topic}.runs",
        "Compacted Kafka topic holding where each run begins in the progress topic, so an "
        "old run's history starts at its first event ({topic}: the progress topic's name; "
        "made when missing); off = none.", "{topic}.runs")
    namespace: str = setting(
        "--namespace", "PROGRESS_NAMESPACE", parse_namespace, "",
        "Serve (and accept) only progress events of this Kubernetes namespace.",
        "none (all namespaces)")
    progress_queue_size: int = setting(
        "--progress-queue-size", "PROGRESS_QUEUE_SIZE", parse_positive_int, 1000,
        "Events queued per progress watcher; a watcher past it is resynced from Kafka.", "1000")
    progress_heartbeat: float = setting(
        "--progress-heartbeat", "PROGRESS_HEARTBEAT_INTERVAL", parse_seconds, 5.0,
        "Seconds without events after which a watcher gets a heartbeat.", "5")
    progress_bus_retention: int = setting(
        "--progress-bus-retention", "PROGRESS_BUS_RETENTION", parse_positive_int, 100_000,
        "Events the in-process bus keeps per partition (when no Kafka is configured).",
        "100000")
    progress_bus_bytes: int = setting(
        "--progress-bus-bytes", "PROGRESS_BUS_BYTES", parse_bytes, 32 * 2**20,
        "Bytes of events the in-process bus keeps in all (the oldest are dropped first, "
        "counted in /metrics).", "32Mi")
    argo_workflows: bool = setting(
        "--argo-workflows", "ARGO_WORKFLOWS", parse_bool, False,
        "Publish every KFP run's step status from Argo's Workflow objects (needs the "
        "argo-status RBAC component): watches the namespace of --namespace, else "
        "POD_NAMESPACE, else every namespace.", "false", switch=True)
    tensorboard_logs: str = setting(
        "--tensorboard-logs", "TENSORBOARD_LOGS", parse_log_pattern, "",
        "Where runs' TensorBoard event files are, with {run_id}: e.g. "
        "minio://mlpipeline/tb/{run_id}/ or /data/tb/{run_id}/; their scalars become metric "
        "events while the files grow. Empty = off.", "none")
# fmt: on


AUTH_MODES = ("none", "kubeflow")


def parse_auth(text: str) -> str:
    lowered = text.strip().lower()
    if lowered not in AUTH_MODES:
        raise ValueError(
            "expected none (no checks) or kubeflow (TokenReview and "
            "SubjectAccessReview on the Kubernetes API)"
        )
    return lowered


def parse_header_name(text: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9-]{1,64}", text):
        raise ValueError("expected an HTTP header name (letters, digits, '-')")
    return text.lower()


# fmt: off
@dataclass(frozen=True)
class AuthConfig:
    """Tenancy: who may publish into a run and who may read it (docs/operators/security.md)."""

    auth: str = setting(
        "--auth", "AUTH", parse_auth, "none",
        "none: anyone who reaches the ports publishes and reads any run (today's behaviour). "
        "kubeflow: publishers present a ServiceAccount token (TokenReview), readers the "
        "gateway's user id header or a token, checked with a SubjectAccessReview on the "
        "run's namespace; talks to the Kubernetes API with the pod's service account or "
        "KUBECONFIG.", "none")
    token_audience: str = setting(
        "--token-audience", "TOKEN_AUDIENCE", str, "pipelines.kubeflow.org",
        "Audience a Bearer token must have (KFP's, for tokens projected into step pods).",
        "pipelines.kubeflow.org")
    userid_header: str = setting(
        "--userid-header", "USERID_HEADER", parse_header_name, "kubeflow-userid",
        "Header (gRPC metadata key) carrying the user the gateway authenticated, as KFP's "
        "KUBEFLOW_USERID_HEADER.", "kubeflow-userid")
    userid_prefix: str = setting(
        "--userid-prefix", "USERID_PREFIX", str, "",
        "Prefix removed from that header's value, as KFP's KUBEFLOW_USERID_PREFIX.", "none")
    auth_cache_size: int = setting(
        "--auth-cache-size", "AUTH_CACHE_SIZE", parse_positive_int, 10_000,
        "Reviewed tokens, and access decisions, each cache keeps (least recently used "
        "first out).", "10000")
    access_review_ttl: float = setting(
        "--access-review-ttl", "ACCESS_REVIEW_TTL", parse_seconds, 10.0,
        "Seconds a SubjectAccessReview's answer is reused (a token's review is reused until "
        "the token expires).", "10")
# fmt: on


def parse_dns_name(text: str) -> str:
    """A DNS name such as ml-pipeline-visualizationserver.kubeflow.svc.cluster.local, or ""."""
    if text and not re.fullmatch(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*",
                                 text):  # fmt: skip
        raise ValueError("expected a DNS name (lower-case letters, digits, '-' and '.')")
    return text


# fmt: off
@dataclass(frozen=True)
class ProfilesConfig:
    """One shared server for every KFP profile namespace (deploy/README.md, shared layout)."""

    serve_profiles: bool = setting(
        "--serve-profiles", "SERVE_PROFILES", parse_bool, False,
        "Serve every KFP profile namespace from this one server: a render's namespace comes "
        "from the Host KFP's API server called (ml-pipeline-visualizationserver.<namespace>) "
        "or KFP's gRPC `namespace` field; its sources are read, and its large pages stored "
        "under private-artifacts/<namespace>/visualizations/, with that namespace's own "
        "Secret mlpipeline-minio-artifact (read on the Kubernetes API). Needs "
        "OBJECTSTORECONFIG_HOST.", "false", switch=True)
    profile_services: bool = setting(
        "--profile-services", "PROFILE_SERVICES", parse_bool, False,
        "With --serve-profiles: keep a Service ml-pipeline-visualizationserver (ExternalName "
        "to this server) in every namespace labelled pipelines.kubeflow.org/enabled=true, "
        "and remove those it made once the label goes; one replica does it (Lease "
        "kfp-viz-server-profiles in the server's namespace). Needs the RBAC of "
        "deploy/kustomize/shared-server-profile-services.", "false", switch=True)
    profile_service_target: str = setting(
        "--profile-service-target", "PROFILE_SERVICE_TARGET", parse_dns_name, "",
        "Where those Services lead (their externalName).",
        "ml-pipeline-visualizationserver.<the server's namespace>.svc.cluster.local")
    profile_keys_ttl: float = setting(
        "--profile-keys-ttl", "PROFILE_KEYS_TTL", parse_seconds, 60.0,
        "Seconds a namespace's keys (and the store checked with them) are reused before its "
        "Secret is read again.", "60")
# fmt: on


@dataclass(frozen=True)
class Config(ProfilesConfig, AuthConfig, ProgressConfig, StoreConfig, PoolConfig, ServerConfig):
    """The resolved settings the server runs with: every group's, as one value.

    A part of the server that needs one group takes that group's type (the page store
    takes a `StoreConfig`); the wiring hands every part this whole `Config`.
    """

    origins: Mapping[str, str] = field(default_factory=dict, compare=False)
    """Where each value came from: a flag, a variable, or the default (and why, for defaults
    derived from the container, such as the pool size)."""


GROUPS: tuple[tuple[str, type[Any]], ...] = (
    ("Server", ServerConfig),
    ("Kernel pool", PoolConfig),
    ("Page store", StoreConfig),
    ("Live progress", ProgressConfig),
    ("Tenancy", AuthConfig),
    ("Profile namespaces", ProfilesConfig),
)
"""The groups of settings, with their titles in --help and in the docs, in table order."""

SETTINGS: tuple[Setting, ...] = settings_of(Config)
"""Every setting, group by group."""


def settings_markdown() -> str:
    """The settings table as Markdown, a section per group: what operators read in the docs."""
    lines: list[str] = []
    for title, group in GROUPS:
        lines += [f"### {title}", "", "| flag | variable | default | meaning |", "|" + "---|" * 4]
        lines += [
            f"| `{row.flag}` | `{row.env}` | {_cell(row.default_text or 'none')} "
            f"| {_cell(row.help)} |"
            for row in settings_of(group)
        ]
        lines.append("")
    return "\n".join(lines)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kfp-viz-server",
        description="Drop-in visualization server for Kubeflow Pipelines: renders "
        "visualizations on a pool of Jupyter kernels behind KFP's HTTP and gRPC APIs. "
        "Every flag can also be set by the environment variable shown.",
    )
    for title, group in GROUPS:
        arguments = parser.add_argument_group(title)
        for row in settings_of(group):
            _add_argument(arguments, row)
    return parser


def _add_argument(parser: argparse._ArgumentGroup, row: Setting) -> None:
    help_text = f"{row.help} [env {row.env}; default {row.default_text}]"
    help_text = help_text.replace("%", "%%")  # argparse formats help with %
    if row.is_switch:
        parser.add_argument(
            row.flag,
            dest=row.name,
            action=argparse.BooleanOptionalAction,
            default=None,
            help=help_text,
        )
    else:
        metavar = row.flag.lstrip("-").replace("-", "_").upper()
        parser.add_argument(row.flag, dest=row.name, default=None, metavar=metavar, help=help_text)


def load_config(
    argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None
) -> Config:
    """Resolve every setting from flags, then environment, then defaults.

    Raises ConfigError naming the flag, the variable and the bad value.
    """
    args = build_parser().parse_args(argv)
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    origins: dict[str, str] = {}
    for row in SETTINGS:
        value, origins[row.name] = _resolve(row, getattr(args, row.name), env)
        if value is _UNSET:
            value = row.default(values) if callable(row.default) else row.default
            origins[row.name] = "default"
            if isinstance(value, Sizing):
                origins[row.name] = f"default: {value.reason}"
                value = value.value
        values[row.name] = value
    if values["timeout"] > values["max_timeout"]:
        raise ConfigError(
            f"--timeout ({values['timeout']:g}) is above --max-timeout "
            f"({values['max_timeout']:g}); raise KERNEL_MAX_TIMEOUT or lower KERNEL_TIMEOUT"
        )
    if values["tensorboard_logs"].startswith("minio://") and not values["store_host"]:
        raise ConfigError(
            "--tensorboard-logs / TENSORBOARD_LOGS: minio:// logs are read from KFP's object "
            "store; set OBJECTSTORECONFIG_HOST (and _PORT, _ACCESSKEY, _SECRETACCESSKEY)"
        )
    _check_profiles(values)
    return Config(**values, origins=origins)


def _check_profiles(values: Mapping[str, Any]) -> None:
    """The shared layout's settings must fit together (see ProfilesConfig)."""
    if values["profile_services"] and not values["serve_profiles"]:
        raise ConfigError(
            "--profile-services / PROFILE_SERVICES needs --serve-profiles / SERVE_PROFILES: "
            "the Services lead profile namespaces here only to be served as theirs"
        )
    if not values["serve_profiles"]:
        return
    if not values["store_host"]:
        raise ConfigError(
            "--serve-profiles / SERVE_PROFILES: each namespace's sources and pages are in "
            "KFP's object store; set OBJECTSTORECONFIG_HOST (and _PORT)"
        )
    if values["reuse_custom_kernels"]:
        raise ConfigError(
            "--serve-profiles / SERVE_PROFILES cannot be used with --reuse-custom-kernels / "
            "REUSE_CUSTOM_KERNELS: custom code of one namespace could leave something "
            "running in a kernel that then renders another namespace's visualization"
        )


_UNSET = object()


def _resolve(row: Setting, given: Any, env: Mapping[str, str]) -> tuple[Any, str]:
    """The value given by flag or environment (or _UNSET), and which of the two gave it."""
    if isinstance(given, bool):
        return given, row.flag
    if given is not None:
        source, text = row.flag, given
    elif row.env in env:
        source, text = row.env, env[row.env]
    else:
        return _UNSET, ""
    try:
        return row.parse(text), source
    except ValueError as error:
        raise ConfigError(f"{row.flag} / {row.env}: {error}; got {text!r} from {source}") from None


def kernel_environment(config: Config) -> dict[str, str]:
    """What kernels must know of the settings, as variables: the source limits.

    Types check every source against them (kernels/source_policy.py); settings given by
    flag would otherwise reach the server but not its kernels. The object store's
    settings are not among them: the server reads object stores for kernels
    (server/object_broker.py), and no kernel holds its credentials.
    """
    return {
        SCHEMES_VARIABLE: ",".join(config.source_schemes),
        ROOTS_VARIABLE: ",".join(config.local_source_roots),
    }


def kernel_connect_ports(config: Config) -> tuple[int, ...] | None:
    """The TCP ports kernels may connect to (None: any), from --kernel-connect-ports.

    `auto`: http, https and gs sources may name any host and port, so any port when one of
    them is allowed (Landlock filters by port only, never by address); otherwise only what
    the allowed object stores need, for the presigned reads kernels make.
    """
    spec = config.kernel_connect_ports
    if spec == "any":
        return None
    if spec == "none":
        return ()
    if spec != PORTS_AUTO:
        return tuple(int(port) for port in spec.split(","))
    schemes = set(config.source_schemes)
    if schemes & {"http", "https", "gs"}:
        return None
    ports = set()
    if schemes & {"minio", "s3"}:
        ports.add(config.store_port if config.store_host else 443)
    return tuple(sorted(ports))
