"""Real MinIO and Kafka processes for integration tests, on free loopback ports.

scripts/test installs both (scripts/lib/deps.sh) and exports where they are. Each class starts
its process, waits until it answers, and can `stop()` and `start()` again on the same ports and
data folder, so tests can take a service away mid-request and bring it back.
"""

from __future__ import annotations

import base64
import os
import signal
import socket
import subprocess
import time
import urllib.request
import uuid
from pathlib import Path

from support import free_port

CACHE = Path(os.environ.get("KFP_VIZ_CACHE", Path.home() / ".cache" / "kfp-viz"))
START_TIMEOUT = 60.0


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
