"""A Spark standalone cluster on this machine: one master and N workers on loopback.

Started from the pyspark package itself (``<pyspark>/bin/spark-class ...Master`` and
``...Worker``): nothing to download or install besides Java. It exists so that the Spark
path is tested against a real cluster, whose executors are separate JVMs with their own
Python workers that get the model only through Spark (`pipelines.spark.classify`), not
only against ``local[N]``, where everything shares the driver's process; and so that a bureau
can try ``--engine spark`` on one machine before pointing it at its own cluster
(``riskclass spark-cluster``).

Ports are free ones picked at start; work, local and log folders live in a temporary folder
(removed at the end); each daemon runs in its own process group, so stopping kills the JVM
and whatever it started (executors, Python workers). Readiness is read from the master's web
UI JSON (``/json/``: every worker ALIVE), with a timeout that names the logs' last lines.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

HOST = "127.0.0.1"
_MASTER = "org.apache.spark.deploy.master.Master"
_WORKER = "org.apache.spark.deploy.worker.Worker"


class ClusterError(RuntimeError):
    """The cluster could not be started: no Java, a daemon died, a worker never registered."""


@dataclass
class Cluster:
    """A running standalone cluster: its ``spark://`` URL, web UI and daemon processes."""

    url: str
    webui: str
    folder: Path
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    logs: list[Path] = field(default_factory=list)

    @property
    def pids(self) -> list[int]:
        """The daemons' process ids (each leads its own process group)."""
        return [p.pid for p in self.processes]

    def alive_workers(self) -> int:
        """Workers the master lists as ALIVE (0 while the master's UI is not up)."""
        try:
            with urllib.request.urlopen(f"{self.webui}/json/", timeout=2) as r:
                state = json.loads(r.read().decode("utf-8"))
        except (OSError, urllib.error.URLError, ValueError):
            return 0
        return sum(1 for w in state.get("workers", []) if w.get("state") == "ALIVE")

    def log_tail(self, lines: int = 15) -> str:
        """The last lines of every daemon's log, for an error message."""
        parts = []
        for log in self.logs:
            text = log.read_text(encoding="utf-8", errors="replace") if log.is_file() else ""
            tail = "\n".join(text.splitlines()[-lines:])
            parts.append(f"--- {log.name}\n{tail}")
        return "\n".join(parts)


def spark_home() -> Path:
    """The Spark distribution inside the installed pyspark package (jars, bin/spark-class)."""
    import pyspark

    return Path(pyspark.__file__).resolve().parent


def java() -> str:
    """The ``java`` the daemons will run (``JAVA_HOME``'s, else the one on ``PATH``)."""
    home = os.environ.get("JAVA_HOME")
    found = str(Path(home) / "bin" / "java") if home else shutil.which("java")
    if not found or not Path(found).is_file():
        raise ClusterError(
            "Spark needs Java 17 or later, and none was found (no bin/java under JAVA_HOME, "
            "or no java on PATH): install the distribution's JRE (Debian/Ubuntu: apt-get install "
            "openjdk-17-jre-headless; `make install` does it)"
        )
    return found


def free_port() -> int:
    """A TCP port nobody listens on at this moment (the OS's pick)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


@contextmanager
def standalone_cluster(
    workers: int = 2,
    cores: int = 1,
    memory: str = "1g",
    timeout: float = 90.0,
    daemon_memory: str = "512m",
) -> Iterator[Cluster]:
    """A master and ``workers`` workers (``cores`` cores and ``memory`` for executors each)
    on loopback, started and registered; stopped (process groups killed) on exit, whatever
    happens inside. `ClusterError` with the logs' tails when one does not come up within
    ``timeout`` seconds."""
    if workers < 1 or cores < 1:
        raise ClusterError("a cluster needs at least one worker with at least one core")
    java_bin = java()
    spark_class = spark_home() / "bin" / "spark-class"
    folder = Path(tempfile.mkdtemp(prefix="riskclass-spark-"))
    env = {
        **os.environ,
        "SPARK_HOME": str(spark_home()),
        "JAVA_HOME": os.environ.get("JAVA_HOME") or str(Path(java_bin).resolve().parents[1]),
        "SPARK_LOCAL_IP": HOST,
        "SPARK_LOCAL_DIRS": str(folder / "local"),
        "SPARK_LOG_DIR": str(folder / "logs"),
        "SPARK_DAEMON_MEMORY": daemon_memory,
        "SPARK_NO_DAEMONIZE": "1",
        "PYSPARK_PYTHON": sys.executable,
    }
    (folder / "logs").mkdir()
    (folder / "local").mkdir()
    port, ui = free_port(), free_port()
    cluster = Cluster(f"spark://{HOST}:{port}", f"http://{HOST}:{ui}", folder)

    def start(name: str, args: list[str]) -> subprocess.Popen[bytes]:
        log = folder / "logs" / f"{name}.log"
        cluster.logs.append(log)
        with log.open("wb") as sink:
            proc = subprocess.Popen(  # our own pyspark launcher, fixed arguments
                [str(spark_class), *args],
                env=env,
                stdout=sink,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # its own process group: stopped with its children
            )
        cluster.processes.append(proc)
        return proc

    try:
        start("master", [_MASTER, "--host", HOST, "--port", str(port), "--webui-port", str(ui)])
        for i in range(workers):
            work = folder / f"work-{i}"
            work.mkdir()
            start(
                f"worker-{i}",
                [
                    _WORKER,
                    "--host", HOST,
                    "--port", str(free_port()),
                    "--webui-port", str(free_port()),
                    "--cores", str(cores),
                    "--memory", memory,
                    "--work-dir", str(work),
                    cluster.url,
                ],
            )  # fmt: skip
        _wait(cluster, workers, timeout)
        yield cluster
    finally:
        stop(cluster)
        shutil.rmtree(folder, ignore_errors=True)


def _wait(cluster: Cluster, workers: int, timeout: float) -> None:
    """Until the master lists ``workers`` ALIVE workers; an error if a daemon exits first or
    the time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        dead = [p for p in cluster.processes if p.poll() is not None]
        if dead:
            raise ClusterError(
                f"a Spark daemon exited while the cluster started (exit {dead[0].returncode}):\n"
                + cluster.log_tail()
            )
        if cluster.alive_workers() >= workers:
            return
        time.sleep(0.5)
    raise ClusterError(
        f"{workers} Spark worker(s) did not register with the master {cluster.url} within "
        f"{timeout:.0f} s ({cluster.alive_workers()} did):\n" + cluster.log_tail()
    )


def stop(cluster: Cluster, grace: float = 10.0) -> None:
    """Stop every daemon: SIGTERM to its process group, SIGKILL to what is left after
    ``grace`` seconds, and wait for each, so that none is left behind."""
    for proc in reversed(cluster.processes):  # workers first, then the master
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    for proc in cluster.processes:
        with suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=max(deadline - time.monotonic(), 0.1))
        with suppress(ProcessLookupError):  # the group: executors and Python workers too
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    for proc in cluster.processes:  # until the kernel has removed every process of the groups
        end = time.monotonic() + grace
        while group_alive(proc.pid) and time.monotonic() < end:
            time.sleep(0.1)


def group_alive(pgid: int) -> bool:
    """Whether any process of the process group ``pgid`` still exists."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
