"""The Spark engine's own command: ``spark-cluster``, a standalone cluster on this machine
(`pipelines.spark.cluster`) to run ``--engine spark`` against before a bureau's real one."""

from __future__ import annotations

import time
from typing import Annotated

import typer

from pipelines.cli.common import console, fail


def spark_cluster(
    workers: Annotated[int, typer.Option(min=1, help="worker processes (each its own JVM)")] = 2,
    cores: Annotated[int, typer.Option(min=1, help="cores each worker offers")] = 1,
    memory: Annotated[str, typer.Option(help="executor memory each worker offers")] = "1g",
    timeout: Annotated[
        float, typer.Option(min=1, help="seconds to wait for the workers to register")
    ] = 90.0,
) -> None:
    """Start a Spark standalone master and workers on loopback (from the installed pyspark;
    Java 17+ needed) and keep them until Ctrl-C; prints the master URL to give
    ``--spark-master``.

    Example: [bold]riskclass spark-cluster --workers 2[/], then in another shell
    [bold]riskclass classify --as-of 2026-10 --engine spark --spark-master spark://127.0.0.1:PORT[/]
    """
    from pipelines.spark.cluster import ClusterError, standalone_cluster

    try:
        with standalone_cluster(workers, cores, memory, timeout) as cluster:
            console.print(
                f"Spark master [bold]{cluster.url}[/] with {workers} worker(s) of {cores} core(s) "
                f"and {memory} each (web UI {cluster.webui}); Ctrl-C stops them",
                soft_wrap=True,
            )
            try:
                while all(p.poll() is None for p in cluster.processes):
                    time.sleep(1)
            except KeyboardInterrupt:
                console.print("stopping the cluster")
                return
            fail("a Spark daemon of the cluster exited:\n" + cluster.log_tail())
    except ClusterError as exc:
        fail(str(exc))
