"""Real MinIO, Kafka, SeaweedFS, Kubernetes and nginx processes for integration tests, on free
loopback ports.

scripts/test installs both (scripts/lib/deps.sh) and exports where they are. Each class starts
its process, waits until it answers, and can `stop()` and `start()` again on the same ports and
data folder, so tests can take a service away mid-request and bring it back.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Self

from support import free_port

CACHE = Path(os.environ.get("KFP_VIZ_CACHE", Path.home() / ".cache" / "kfp-viz"))
START_TIMEOUT = 60.0


def cached_tool(variable: str, pattern: str) -> str:
    """A tool scripts/lib/deps.sh built: the path it exported, else the newest in the cache."""
    if os.environ.get(variable):
        return os.environ[variable]
    found = sorted(CACHE.glob(pattern))
    assert found, f"{pattern} is missing from {CACHE}: run ./scripts/test (scripts/lib/deps.sh)"
    return str(found[-1])


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


class _Service:
    """A child process with a log file; subclasses say how to launch it and when it is up."""

    name = "service"

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.log_path = workdir / f"{self.name}.log"
        self.process: subprocess.Popen | None = None

    def command(self) -> list[str]:
        raise NotImplementedError

    def env(self) -> dict[str, str]:
        return dict(os.environ)

    def is_up(self) -> bool:
        raise NotImplementedError

    def start(self) -> None:
        """Launch (again) and wait until it serves; raise with the log tail when it does not."""
        assert self.process is None or self.process.poll() is not None, f"{self.name} running"
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            self.command(),
            stdout=log,
            stderr=subprocess.STDOUT,
            env=self.env(),
            start_new_session=True,
        )
        deadline = time.monotonic() + START_TIMEOUT
        while not self.is_up():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{self.name} did not start:\n{self.log()[-3000:]}")
            time.sleep(0.1)

    def stop(self) -> None:
        """SIGTERM the process group, SIGKILL after 20 s; wait until it is gone."""
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


class MinioServer(_Service):
    """`minio server` on 127.0.0.1; `endpoint`, `access_key`, `secret_key` for clients."""

    name = "minio"
    access_key = "minio-test"
    secret_key = "minio-test-secret"

    def __init__(self, workdir: Path) -> None:
        super().__init__(workdir)
        self.binary = os.environ.get("KFP_VIZ_MINIO", str(CACHE / "bin" / "minio"))
        self.port = free_port()
        self.console_port = free_port()
        self.endpoint = f"127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        return [
            self.binary, "server", str(self.workdir / "data"), "--quiet",
            "--address", self.endpoint, "--console-address", f"127.0.0.1:{self.console_port}",
        ]  # fmt: skip

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "MINIO_ROOT_USER": self.access_key,
            "MINIO_ROOT_PASSWORD": self.secret_key,
            "MINIO_BROWSER": "off",
            "MINIO_UPDATE": "off",
        }

    def is_up(self) -> bool:
        url = f"http://{self.endpoint}/minio/health/ready"
        try:
            with urllib.request.urlopen(url, timeout=1) as reply:
                return reply.status == 200
        except OSError:
            return False

    def server_env(self, bucket: str = "mlpipeline") -> dict[str, str]:
        """The KFP API server's object-store variables, pointing at this MinIO."""
        return {
            "OBJECTSTORECONFIG_HOST": "127.0.0.1",
            "OBJECTSTORECONFIG_PORT": str(self.port),
            "OBJECTSTORECONFIG_SECURE": "false",
            "OBJECTSTORECONFIG_BUCKETNAME": bucket,
            "OBJECTSTORECONFIG_ACCESSKEY": self.access_key,
            "OBJECTSTORECONFIG_SECRETACCESSKEY": self.secret_key,
        }


KAFKA_PROPERTIES = """\
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:{controller}
listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller}
advertised.listeners=PLAINTEXT://127.0.0.1:{port}
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs={data}
num.partitions={partitions}
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
"""

KAFKA_LOG4J = """\
log4j.rootLogger=WARN, stderr
log4j.appender.stderr=org.apache.log4j.ConsoleAppender
log4j.appender.stderr.Target=System.err
log4j.appender.stderr.layout=org.apache.log4j.PatternLayout
log4j.appender.stderr.layout.ConversionPattern=[%d] %p %m (%c)%n
"""


def _new_cluster_id() -> str:
    """A random KRaft cluster id: 16 bytes, base64url without padding, as Kafka makes them."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()


class KafkaBroker(_Service):
    """One KRaft node (broker + controller) from the jars in $KFP_VIZ_KAFKA_LIBS.

    `bootstrap` is the address clients use. Topics are auto-created with `partitions`
    partitions; the storage folder is formatted once, so a restart keeps every message.
    """

    name = "kafka"

    def __init__(self, workdir: Path, partitions: int = 3, cluster_id: str = "") -> None:
        super().__init__(workdir)
        libs = os.environ.get("KFP_VIZ_KAFKA_LIBS")
        if not libs:
            found = sorted(CACHE.glob("kafka-*/.complete"))
            assert found, "Kafka's jars are missing: run ./scripts/test (scripts/lib/deps.sh)"
            libs = str(found[-1].parent)
        self.classpath = f"{libs}/*"
        self.port = free_port()
        self.controller_port = free_port()
        self.bootstrap = f"127.0.0.1:{self.port}"
        props = KAFKA_PROPERTIES.format(
            port=self.port, controller=self.controller_port,
            data=workdir / "data", partitions=partitions,
        )  # fmt: skip
        (workdir / "server.properties").write_text(props)
        (workdir / "log4j.properties").write_text(KAFKA_LOG4J)
        self._format_storage(cluster_id or _new_cluster_id())

    def _java(self, *args: str) -> list[str]:
        return [
            "java", "-Xms128m", "-Xmx512m", "-XX:+UseSerialGC",
            f"-Dlog4j.configuration=file:{self.workdir / 'log4j.properties'}",
            "-cp", self.classpath, *args,
        ]  # fmt: skip

    def _format_storage(self, cluster_id: str) -> None:
        # `--cluster-id=ID`, not `-t ID`: one id in 64 starts with "-", which the tool
        # would take for an option (the broker then failed to start).
        subprocess.run(
            self._java("kafka.tools.StorageTool", "format", f"--cluster-id={cluster_id}",
                       "-c", str(self.workdir / "server.properties")),
            check=True, capture_output=True,
        )  # fmt: skip

    def command(self) -> list[str]:
        return self._java("kafka.Kafka", str(self.workdir / "server.properties"))

    def is_up(self) -> bool:
        return _port_open(self.port)


NGINX_CONFIG = """\
daemon off;
master_process off;
pid {workdir}/nginx.pid;
error_log stderr warn;
events {{ worker_connections 512; }}
http {{
  access_log {workdir}/access.log;
  client_body_temp_path {workdir}/temp/body;
  proxy_temp_path {workdir}/temp/proxy;
  fastcgi_temp_path {workdir}/temp/fastcgi;
  uwsgi_temp_path {workdir}/temp/uwsgi;
  scgi_temp_path {workdir}/temp/scgi;
  server {{
    listen 127.0.0.1:{port};
    location {prefix} {{
      proxy_pass {upstream}/;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
      proxy_read_timeout 1h;
{extra}
    }}
  }}
}}
"""


class Nginx(_Service):
    """Debian's nginx on loopback in front of `upstream` (a base URL), serving it under `prefix`
    and passing requests on with the prefix cut off, as Kubeflow's gateway does with its Istio
    rewrite (`/kfp-viz/progress` reaches the server as `/progress`); unbuffered, with a long
    read timeout, as event streams need. `url` is the prefix's address, without its slash.
    Its access log (`requests()`) says what the browser asked of it."""

    name = "nginx"

    def __init__(self, workdir: Path, upstream: str, prefix: str = "/kfp-viz/",
                 port: int = 0, identity_cookie: str = "") -> None:  # fmt: skip
        """`identity_cookie`: name the user of the request's cookie of that name in
        `kubeflow-userid`, as Kubeflow's gateway does after oauth2-proxy reads its session
        cookie (and drop a `kubeflow-userid` the browser sent: only the gateway sets it)."""
        super().__init__(workdir)
        self.binary = os.environ.get("KFP_VIZ_NGINX", "/usr/sbin/nginx")
        assert os.path.exists(self.binary), f"{self.binary} missing: run ./scripts/test (deps.sh)"
        assert prefix.startswith("/") and prefix.endswith("/"), prefix
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}{prefix.rstrip('/')}"
        (workdir / "temp").mkdir(exist_ok=True)
        self.config = workdir / "nginx.conf"
        self.config.write_text(NGINX_CONFIG.format(
            workdir=workdir, port=self.port, prefix=prefix, upstream=upstream.rstrip("/"),
            extra=f"      proxy_set_header kubeflow-userid $cookie_{identity_cookie};"
            if identity_cookie else "",
        ))  # fmt: skip

    def command(self) -> list[str]:
        return [self.binary, "-p", str(self.workdir), "-c", str(self.config), "-e", "stderr"]

    def is_up(self) -> bool:
        return _port_open(self.port)

    def requests(self) -> list[str]:
        """The request lines nginx served (`GET /kfp-viz/progress HTTP/1.1`), oldest first."""
        log = self.workdir / "access.log"
        lines = log.read_text(errors="replace").splitlines() if log.exists() else []
        return [line.split('"')[1] for line in lines if line.count('"') >= 2]


class SeaweedFS(_Service):
    """SeaweedFS as KFP (>= 2.15) runs it: `weed server -s3 -iam -filer`, every port free.

    Credentials are set up as KFP's `init-seaweedfs` job does: the bucket made with
    `s3.bucket.create`, and the `mlpipeline-minio-artifact` keys given to an admin identity
    with `s3.configure ... -actions Admin`. `identity()` adds more identities the same way
    (e.g. one limited to a namespace's prefixes, as the profile controller's IAM policy is).
    """

    name = "seaweedfs"
    access_key = "minio"
    secret_key = "minio123"

    def __init__(self, workdir: Path, bucket: str = "mlpipeline") -> None:
        super().__init__(workdir)
        self.binary = cached_tool("KFP_VIZ_WEED", "seaweedfs-*/weed")
        self.bucket = bucket
        self.ports = {
            name: free_port()
            for name in ("master", "master.grpc", "volume", "volume.grpc", "filer",
                         "filer.grpc", "s3", "s3.grpc", "iam")
        }  # fmt: skip
        self.port = self.ports["s3"]
        self.endpoint = f"127.0.0.1:{self.port}"
        self._configured = False

    def command(self) -> list[str]:
        data = self.workdir / "data"
        data.mkdir(exist_ok=True)
        ports = [f"-{name}.port={port}" if "." not in name else
                 f"-{name.split('.')[0]}.port.grpc={port}"
                 for name, port in self.ports.items()]  # fmt: skip
        return [
            self.binary, "server", f"-dir={data}", "-s3", "-iam", "-filer",
            "-master.volumePreallocate=false", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
            "-master.volumeSizeLimitMB=64", "-volume.max=0", *ports,
            "-s3.port.iceberg=0", "-s3.port.lance=0",  # catalogs on fixed ports: not needed
        ]  # fmt: skip

    def is_up(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://{self.endpoint}/status", timeout=1) as reply:
                return reply.status == 200
        except OSError:
            return False

    def start(self) -> None:
        super().start()
        if not self._configured:
            self.shell(f"s3.bucket.create -name {self.bucket}")
            self.identity("kubeflow-admin", self.access_key, self.secret_key, "Admin")
            self._configured = True

    def shell(self, command: str) -> str:
        """Run one `weed shell` command against this server (as KFP's init job does)."""
        # weed names a server with a gRPC port of its own as host:port.grpcport
        master = f"127.0.0.1:{self.ports['master']}.{self.ports['master.grpc']}"
        filer = f"127.0.0.1:{self.ports['filer']}.{self.ports['filer.grpc']}"
        result = subprocess.run(
            [self.binary, "shell", f"-master={master}", f"-filer={filer}"],
            input=command + "\n", capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        if result.returncode != 0 or "error" in result.stdout.lower():
            raise RuntimeError(f"weed shell {command!r} failed:\n{result.stdout}{result.stderr}")
        return result.stdout

    def identity(self, user: str, access_key: str, secret_key: str, actions: str) -> None:
        """An S3 identity with `actions` (e.g. `Admin`, or `Read:bucket/prefix/*,...`)."""
        self.shell(
            f"s3.configure -user {user} -access_key {access_key} -secret_key {secret_key} "
            f"-actions {actions} -apply"
        )
        time.sleep(1.5)  # the S3 gateway picks up identity changes from the filer

    def server_env(self, bucket: str = "", access_key: str = "", secret_key: str = "") -> dict:
        """The KFP API server's object-store variables, pointing at this SeaweedFS."""
        return {
            "OBJECTSTORECONFIG_HOST": "127.0.0.1",
            "OBJECTSTORECONFIG_PORT": str(self.port),
            "OBJECTSTORECONFIG_SECURE": "false",
            "OBJECTSTORECONFIG_BUCKETNAME": bucket or self.bucket,
            "OBJECTSTORECONFIG_ACCESSKEY": access_key or self.access_key,
            "OBJECTSTORECONFIG_SECRETACCESSKEY": secret_key or self.secret_key,
        }


class Etcd(_Service):
    """One etcd member on loopback: the Kubernetes API server's storage."""

    name = "etcd"

    def __init__(self, workdir: Path) -> None:
        super().__init__(workdir)
        self.binary = cached_tool("KFP_VIZ_ETCD", "kubernetes-*/etcd")
        self.port, self.peer_port = free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        peer = f"http://127.0.0.1:{self.peer_port}"
        return [
            self.binary, f"--data-dir={self.workdir / 'data'}", "--name=default",
            f"--listen-client-urls={self.url}", f"--advertise-client-urls={self.url}",
            f"--listen-peer-urls={peer}", f"--initial-advertise-peer-urls={peer}",
            f"--initial-cluster=default={peer}", "--log-level=warn",
            "--quota-backend-bytes=1073741824",
        ]  # fmt: skip

    def is_up(self) -> bool:
        try:
            with urllib.request.urlopen(self.url + "/health", timeout=1) as reply:
                return b'"true"' in reply.read()
        except OSError:
            return False


class KubeApiServer(_Service):
    """A real kube-apiserver (with its own etcd) on loopback: token auth, no controllers.

    Nothing runs pods (there is no scheduler, kubelet or controller manager): the server
    validates, admits (PodSecurity included) and stores objects, which is what the deploy
    tests need. `kubectl(...)` runs the real kubectl against it with a kubeconfig of its own.
    """

    name = "kube-apiserver"
    token = "kfp-viz-test-admin-token"

    def __init__(self, workdir: Path) -> None:
        super().__init__(workdir)
        self.binary = cached_tool("KFP_VIZ_KUBE_APISERVER", "kubernetes-*/kube-apiserver")
        self.kubectl_binary = cached_tool("KFP_VIZ_KUBECTL", "kubernetes-*/kubectl")
        self.etcd = Etcd(workdir / "etcd")
        self.port = free_port()
        self.url = f"https://127.0.0.1:{self.port}"
        self.kubeconfig = workdir / "kubeconfig"

    def command(self) -> list[str]:
        return [
            self.binary, f"--etcd-servers={self.etcd.url}",
            "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1",
            f"--secure-port={self.port}", f"--cert-dir={self.workdir / 'certs'}",
            f"--token-auth-file={self.workdir / 'tokens.csv'}",
            "--authorization-mode=RBAC",
            "--service-account-issuer=https://kubernetes.default.svc",
            f"--service-account-key-file={self.workdir / 'sa.pub'}",
            f"--service-account-signing-key-file={self.workdir / 'sa.key'}",
            "--service-cluster-ip-range=10.96.0.0/16",
            "--endpoint-reconciler-type=none",
        ]  # fmt: skip

    def start(self) -> None:
        if self.etcd.process is None or self.etcd.process.poll() is not None:
            self.etcd.start()
        self._write_credentials()
        super().start()

    def stop(self) -> None:
        super().stop()
        self.etcd.stop()

    def _write_credentials(self) -> None:
        (self.workdir / "tokens.csv").write_text(f'{self.token},admin,admin,"system:masters"\n')
        key = self.workdir / "sa.key"
        if not key.exists():
            subprocess.run(["openssl", "genrsa", "-out", str(key), "2048"],
                           check=True, capture_output=True)  # fmt: skip
            subprocess.run(["openssl", "rsa", "-in", str(key), "-pubout",
                            "-out", str(self.workdir / "sa.pub")],
                           check=True, capture_output=True)  # fmt: skip
        self.kubeconfig.write_text(
            json.dumps(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "clusters": [
                        {"name": "test", "cluster": {"server": self.url,
                                                     "insecure-skip-tls-verify": True}}
                    ],
                    "users": [{"name": "admin", "user": {"token": self.token}}],
                    "contexts": [{"name": "test", "context": {"cluster": "test", "user": "admin"}}],
                    "current-context": "test",
                }
            )
        )  # fmt: skip

    def is_up(self) -> bool:
        if not _port_open(self.port):
            return False
        result = self.kubectl("get", "--raw", "/readyz", check=False)
        return result.returncode == 0 and result.stdout.strip() == "ok"

    def kubectl(
        self, *args: str, input: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """Run kubectl against this server; with `check`, fail with its output on error."""
        result = subprocess.run(
            [self.kubectl_binary, f"--kubeconfig={self.kubeconfig}", *args],
            input=input, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        if check and result.returncode != 0:
            raise AssertionError(
                f"kubectl {' '.join(args)} failed ({result.returncode}):\n"
                f"{result.stdout}{result.stderr}"
            )
        return result


def profile_namespace_keys(store: SeaweedFS, namespace: str, bucket: str = "mlpipeline") -> dict:
    """Keys for one profile namespace, made as KFP's profile controller (>= 2.15) makes them:
    an access key from SeaweedFS's IAM API, and a user policy allowing Put*, Get* and List* on
    the bucket's `artifacts/`, `private-artifacts/<namespace>/`, `private/<namespace>/` and
    `shared/` prefixes only. Returns the Secret's data: `accesskey`, `secretkey`."""
    import botocore.session

    iam = botocore.session.get_session().create_client(
        "iam",
        region_name="us-east-1",
        endpoint_url=f"http://127.0.0.1:{store.ports['iam']}",
        aws_access_key_id=store.access_key,
        aws_secret_access_key=store.secret_key,
    )
    key = iam.create_access_key(UserName=namespace)["AccessKey"]
    prefixes = ("artifacts/", f"private-artifacts/{namespace}/", f"private/{namespace}/", "shared/")
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["s3:Put*", "s3:Get*", "s3:List*"],
                "Resource": [f"arn:aws:s3:::{bucket}/{prefix}*" for prefix in prefixes],
            }
        ],
    }
    iam.put_user_policy(
        UserName=namespace,
        PolicyName=f"KubeflowProject{namespace}",
        PolicyDocument=json.dumps(policy),
    )
    time.sleep(1.5)  # the S3 gateway picks up identity changes from the filer
    return {"accesskey": key["AccessKeyId"], "secretkey": key["SecretAccessKey"]}


def profile_bucket_policy(store: SeaweedFS, bucket: str = "mlpipeline") -> dict:
    """The bucket policy KFP's profile controller (>= 2.15) sets, restated: a namespace's keys
    may list deep inside `private-artifacts/<their user>/` and `private/<their user>/` (and
    `artifacts/`, `shared/`), the top level with a delimiter, and nobody deeper inside another
    user's private folders. Set on `bucket` with the admin keys; returns the policy."""
    from minio import Minio

    own = ["private-artifacts/${aws:username}/*", "private/${aws:username}/*"]
    listing = {"Effect": "Allow", "Principal": "*", "Action": "s3:ListBucket",
               "Resource": f"arn:aws:s3:::{bucket}"}  # fmt: skip
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {**listing, "Sid": "AllowOwnDeepList",
             "Condition": {"StringLike": {"s3:prefix": [*own, "artifacts/*", "shared/*"]}}},
            {**listing, "Sid": "AllowTopLevelDelimitedBrowse",
             "Condition": {"Null": {"s3:prefix": "true"}, "StringEquals": {"s3:delimiter": "/"}}},
            {**listing, "Sid": "DenyOtherDeepList", "Effect": "Deny",
             "Condition": {"StringLike": {"s3:prefix": ["private-artifacts/*", "private/*"]},
                           "StringNotLike": {"s3:prefix": own}}},
        ],
    }  # fmt: skip
    admin = Minio(store.endpoint, store.access_key, store.secret_key, secure=False)
    admin.set_bucket_policy(bucket, json.dumps(policy))
    time.sleep(1.5)  # the S3 gateway picks up policy changes from the filer
    return policy
