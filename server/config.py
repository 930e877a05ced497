"""Every setting the server reads, in one table: flag, environment variable, default, meaning.

Precedence: command-line flag, then environment variable, then default. The
table below also produces `--help`, and the README's settings section is
checked against it by the tests, so the three cannot drift apart.

Environment names follow what KFP operators already use where one exists
(`KERNEL_TIMEOUT` from the stock server, `ALLOW_CUSTOM_VISUALIZATIONS` from the
API server). A bad value stops the server at start with a message naming the
flag, the variable and the value.
"""

from __future__ import annotations

import argparse
import functools
import os
import re
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

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


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def parse_log_level(text: str) -> str:
    if text.upper() not in LOG_LEVELS:
        raise ValueError(f"expected one of {', '.join(LOG_LEVELS)}")
    return text.upper()


def parse_topic(text: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9._-]{1,249}", text):
        raise ValueError("expected a Kafka topic name: 1 to 249 letters, digits, '.', '_', '-'")
    return text


def parse_index_topic(text: str) -> str:
    """A topic name, in which `{topic}` stands for the progress topic's, or `off`."""
    if text != "off":
        parse_topic(text.replace("{topic}", "t"))
    return text


# A Kubernetes namespace name, or "" (none); progress events are checked against it too.
NAMESPACE = re.compile(r"^([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)?$")


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
    """One row of the settings table."""

    name: str
    flag: str
    env: str
    parse: Callable[[str], Any]
    default: Any
    """A value, or a function of the settings resolved so far."""
    help: str
    default_text: str
    is_switch: bool = False


SETTINGS: tuple[Setting, ...] = (
    Setting("host", "--host", "VIZ_HOST", str, "0.0.0.0",
            "Address both ports listen on.", "0.0.0.0"),
    Setting("http_port", "--http-port", "VIZ_HTTP_PORT", parse_port, 8888,
            "HTTP port: KFP's form contract, /readyz, /metrics.", "8888"),
    Setting("grpc_port", "--grpc-port", "VIZ_GRPC_PORT", parse_port, 8887,
            "gRPC port: api.VisualizationService, health, reflection.", "8887"),
    Setting("pool_size", "--pool-size", "KERNEL_POOL_SIZE", parse_positive_int,
            _default_pool_size, "Jupyter kernels rendering at once.",
            "from the container's limits: 1 per CPU of a CPU limit (at least 2), else 2 to 4; "
            "no more than fit a memory limit"),
    Setting("max_queue", "--max-queue", "MAX_QUEUE", parse_non_negative_int,
            lambda s: 4 * s["pool_size"],
            "Requests that may wait for a kernel; beyond that, 503 with Retry-After.",
            "4 x pool size"),
    Setting("timeout", "--timeout", "KERNEL_TIMEOUT", parse_seconds, 100.0,
            "Render timeout in seconds when the request sets none.", "100"),
    Setting("max_timeout", "--max-timeout", "KERNEL_MAX_TIMEOUT", parse_seconds,
            lambda s: max(600.0, s["timeout"]),
            "Cap on a request's own timeout (X-Visualization-Timeout header or gRPC deadline).",
            "600"),
    Setting("kernel_memory_limit", "--kernel-memory-limit", "KERNEL_MEMORY_LIMIT", parse_bytes,
            _default_kernel_memory,
            "Memory per kernel (512Mi, 2G, ...; 0 = no limit). Enforced in the kernel process; "
            "a kernel above 90% of it after a render is replaced.",
            "2G, or an equal share of the container's memory limit"),
    Setting("max_renders", "--max-renders-per-kernel", "KERNEL_MAX_RENDERS", parse_positive_int,
            500, "Renders after which a kernel is replaced by a fresh one.", "500"),
    Setting("allow_custom", "--allow-custom-visualizations", "ALLOW_CUSTOM_VISUALIZATIONS",
            parse_bool, False,
            "Run `custom` visualizations and roc_curve's target_lambda (both are code).",
            "false", is_switch=True),
    Setting("reuse_custom_kernels", "--reuse-custom-kernels", "REUSE_CUSTOM_KERNELS", parse_bool,
            False,
            "Reset and reuse a kernel after custom code instead of replacing it: faster, but "
            "custom code can then leave changes inside imported modules.",
            "false", is_switch=True),
    Setting("kernel_sandbox", "--kernel-sandbox", "KERNEL_SANDBOX", parse_sandbox, True,
            "Confine every kernel with Landlock (files, TCP, signals; see the README's "
            "Security model): auto uses what this Linux offers, off runs kernels with the "
            "server's rights.", "auto"),
    Setting("kernel_connect_ports", "--kernel-connect-ports", "KERNEL_CONNECT_PORTS",
            parse_connect_ports, PORTS_AUTO,
            "TCP ports kernels may connect to (Landlock ABI 4+): any, none, or a list such as "
            "443,9000; auto: any when http, https or gs sources are allowed, else only the "
            "object store's port.", "auto"),
    Setting("kernel_env", "--kernel-env", "KERNEL_ENV", parse_names, (),
            "Names of the server's environment variables kernels also get, comma-separated "
            "(e.g. GOOGLE_APPLICATION_CREDENTIALS); they get no others beyond PATH, locale, "
            "proxies and CA bundles.", "none"),
    Setting("max_output_size", "--max-output-size", "MAX_OUTPUT_SIZE", parse_bytes, 32 * 2**20,
            "Output one render may produce (prints, displays); past it the rest is dropped "
            "and the page says where it was cut.", "32Mi"),
    Setting("source_schemes", "--source-schemes", SCHEMES_VARIABLE, parse_schemes, SCHEMES,
            "Kinds of source the built-in types may read, comma-separated.",
            ",".join(SCHEMES)),
    Setting("local_source_roots", "--local-source-roots", ROOTS_VARIABLE, parse_roots, (),
            "Folders local sources must be in, comma-separated (symbolic links resolved); "
            f"empty: any folder but the system ones ({', '.join(SYSTEM_FOLDERS)}).", ""),
    Setting("max_body_size", "--max-body-size", "MAX_BODY_SIZE", parse_bytes, 32 * 2**20,
            "Largest request body (HTTP) or message (gRPC); larger ones get 413.", "32Mi"),
    Setting("shutdown_grace", "--shutdown-grace", "SHUTDOWN_GRACE", parse_seconds, 20.0,
            "On SIGTERM, seconds running renders may take to finish before they are cancelled.",
            "20"),
    Setting("log_level", "--log-level", "LOG_LEVEL", parse_log_level, "INFO",
            "Logging detail: DEBUG, INFO, WARNING or ERROR.", "INFO"),
    Setting("inline_limit", "--inline-limit", "INLINE_LIMIT", parse_inline_limit, None,
            "Largest page sent inline; larger pages are stored and referenced. `auto` keeps "
            "KFP's whole gRPC reply (page + echoed source and arguments) under 4 MiB; a value "
            "under 4 MiB only lowers that, one over it replaces it (an API server with a "
            "raised cap).", "auto"),
    Setting("store_host", "--object-store-host", "OBJECTSTORECONFIG_HOST", str, "",
            "S3 / MinIO host for pages past the inline limit; empty = the local folder "
            "--store-folder.", "none"),
    Setting("store_port", "--object-store-port", "OBJECTSTORECONFIG_PORT", parse_port, 9000,
            "Object store port.", "9000"),
    Setting("store_secure", "--object-store-secure", "OBJECTSTORECONFIG_SECURE", parse_bool,
            False, "Talk to the object store over TLS.", "false", is_switch=True),
    Setting("store_bucket", "--object-store-bucket", "OBJECTSTORECONFIG_BUCKETNAME", str,
            "mlpipeline", "Bucket for stored pages (made if missing).", "mlpipeline"),
    Setting("store_access_key", "--object-store-access-key", "OBJECTSTORECONFIG_ACCESSKEY", str,
            "", "Object store access key (secret mlpipeline-minio-artifact, key accesskey).",
            "none"),
    Setting("store_secret_key", "--object-store-secret-key",
            "OBJECTSTORECONFIG_SECRETACCESSKEY", str, "",
            "Object store secret key (prefer the environment: flags show in process lists).",
            "none"),
    Setting("store_region", "--object-store-region", "OBJECTSTORECONFIG_REGION", str, "",
            "Object store region; empty = ask the store.", "none"),
    Setting("store_prefix", "--store-prefix", "STORE_PREFIX", parse_store_prefix,
            "visualizations/", "Key prefix of stored pages (keys are <prefix><sha256>.html).",
            "visualizations/"),
    Setting("store_retention_days", "--store-retention-days", "STORE_RETENTION_DAYS",
            parse_non_negative_int, 30,
            "Days stored pages are kept: a lifecycle rule on the prefix (folder store: pruned "
            "hourly); 0 = forever.", "30"),
    Setting("presign_expiry", "--presign-expiry", "PRESIGN_EXPIRY", parse_presign_expiry,
            86400.0, "Seconds a stored page's presigned URL stays valid (at most 7 days).",
            "86400"),
    Setting("store_folder", "--store-folder", "STORE_FOLDER", str,
            lambda _: default_store_folder(),
            "Folder for stored pages when no object store host is set.", "$TMPDIR/kfp-viz-pages"),
    Setting("public_url", "--public-url", "PUBLIC_URL", parse_url, "",
            "Base URL browsers reach this server's HTTP port at: links to stored pages (empty = "
            "the Host the request came to) and live updates in the `progress` view (empty = "
            "snapshot only).", "none"),
    Setting("kafka_bootstrap_servers", "--kafka-bootstrap-servers", "KAFKA_BOOTSTRAP_SERVERS",
            str, "", "Kafka brokers (host:port,...) carrying progress events; empty = the "
            "in-process bus.", "none (in-process bus)"),
    Setting("kafka_progress_topic", "--kafka-progress-topic", "KAFKA_PROGRESS_TOPIC",
            parse_topic, "kfp-progress", "Kafka topic of progress events.", "kfp-progress"),
    Setting("kafka_run_index_topic", "--kafka-run-index-topic", "KAFKA_RUN_INDEX_TOPIC",
            parse_index_topic, "{topic}.runs",
            "Compacted Kafka topic holding where each run begins in the progress topic, so an "
            "old run's history starts at its first event ({topic}: the progress topic's "
            "name; made when missing); off = none.", "{topic}.runs"),
    Setting("namespace", "--namespace", "PROGRESS_NAMESPACE", parse_namespace, "",
            "Serve (and accept) only progress events of this Kubernetes namespace.",
            "none (all namespaces)"),
    Setting("progress_queue_size", "--progress-queue-size", "PROGRESS_QUEUE_SIZE",
            parse_positive_int, 1000,
            "Events queued per progress watcher; a watcher past it is resynced from Kafka.",
            "1000"),
    Setting("progress_heartbeat", "--progress-heartbeat", "PROGRESS_HEARTBEAT_INTERVAL",
            parse_seconds, 5.0, "Seconds without events after which a watcher gets a heartbeat.",
            "5"),
    Setting("progress_bus_retention", "--progress-bus-retention", "PROGRESS_BUS_RETENTION",
            parse_positive_int, 100_000,
            "Events the in-process bus keeps per partition (when no Kafka is configured).",
            "100000"),
    Setting("progress_bus_bytes", "--progress-bus-bytes", "PROGRESS_BUS_BYTES", parse_bytes,
            32 * 2**20,
            "Bytes of events the in-process bus keeps in all (the oldest are dropped first, "
            "counted in /metrics).", "32Mi"),
    Setting("argo_workflows", "--argo-workflows", "ARGO_WORKFLOWS", parse_bool, False,
            "Publish every KFP run's step status from Argo's Workflow objects (needs the "
            "argo-status RBAC component): watches the namespace of --namespace, else "
            "POD_NAMESPACE, else every namespace.", "false", is_switch=True),
    Setting("tensorboard_logs", "--tensorboard-logs", "TENSORBOARD_LOGS", parse_log_pattern, "",
            "Where runs' TensorBoard event files are, with {run_id}: e.g. "
            "minio://mlpipeline/tb/{run_id}/ or /data/tb/{run_id}/; their scalars become "
            "metric events while a run is watched. Empty = off.", "none"),
)  # fmt: skip


@dataclass(frozen=True)
class Config:
    """The resolved settings the server runs with."""

    host: str
    http_port: int
    grpc_port: int
    pool_size: int
    max_queue: int
    timeout: float
    max_timeout: float
    kernel_memory_limit: int
    max_renders: int
    allow_custom: bool
    reuse_custom_kernels: bool
    kernel_sandbox: bool
    kernel_connect_ports: str
    kernel_env: tuple[str, ...]
    max_output_size: int
    source_schemes: tuple[str, ...]
    local_source_roots: tuple[str, ...]
    max_body_size: int
    shutdown_grace: float
    log_level: str
    inline_limit: int | None
    store_host: str
    store_port: int
    store_secure: bool
    store_bucket: str
    store_access_key: str
    store_secret_key: str
    store_region: str
    store_prefix: str
    store_retention_days: int
    presign_expiry: float
    store_folder: str
    public_url: str
    kafka_bootstrap_servers: str
    kafka_progress_topic: str
    kafka_run_index_topic: str
    namespace: str
    progress_queue_size: int
    progress_heartbeat: float
    progress_bus_retention: int
    progress_bus_bytes: int
    argo_workflows: bool
    tensorboard_logs: str
    origins: Mapping[str, str] = field(default_factory=dict, compare=False)
    """Where each value came from: a flag, a variable, or the default (and why, for defaults
    derived from the container, such as the pool size)."""


assert [f.name for f in fields(Config) if f.name != "origins"] == [s.name for s in SETTINGS], (
    "table and Config differ"
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kfp-viz-server",
        description="Drop-in visualization server for Kubeflow Pipelines: renders "
        "visualizations on a pool of Jupyter kernels behind KFP's HTTP and gRPC APIs. "
        "Every flag can also be set by the environment variable shown.",
    )
    for setting in SETTINGS:
        help_text = f"{setting.help} [env {setting.env}; default {setting.default_text}]"
        help_text = help_text.replace("%", "%%")  # argparse formats help with %
        if setting.is_switch:
            parser.add_argument(
                setting.flag,
                dest=setting.name,
                action=argparse.BooleanOptionalAction,
                default=None,
                help=help_text,
            )
        else:
            metavar = setting.flag.lstrip("-").replace("-", "_").upper()
            parser.add_argument(
                setting.flag, dest=setting.name, default=None, metavar=metavar, help=help_text
            )
    return parser


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
    for setting in SETTINGS:
        value, origins[setting.name] = _resolve(setting, getattr(args, setting.name), env)
        if value is _UNSET:
            value = setting.default(values) if callable(setting.default) else setting.default
            origins[setting.name] = "default"
            if isinstance(value, Sizing):
                value, origins[setting.name] = value.value, f"default: {value.reason}"
        values[setting.name] = value
    if values["timeout"] > values["max_timeout"]:
        raise ConfigError(
            f"--timeout ({values['timeout']:g}) is above --max-timeout "
            f"({values['max_timeout']:g}); raise KERNEL_MAX_TIMEOUT or lower KERNEL_TIMEOUT"
        )
    return Config(**values, origins=origins)


_UNSET = object()


def _resolve(setting: Setting, given: Any, env: Mapping[str, str]) -> tuple[Any, str]:
    """The value given by flag or environment (or _UNSET), and which of the two gave it."""
    if isinstance(given, bool):
        return given, setting.flag
    if given is not None:
        source, text = setting.flag, given
    elif setting.env in env:
        source, text = setting.env, env[setting.env]
    else:
        return _UNSET, ""
    try:
        return setting.parse(text), source
    except ValueError as error:
        raise ConfigError(
            f"{setting.flag} / {setting.env}: {error}; got {text!r} from {source}"
        ) from None


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
