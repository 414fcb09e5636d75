"""A SparkSession for the pipeline: master from config (``local[N]`` or ``spark://host:port``).

Workers run this project's own interpreter (the virtual environment's, so that they import
the same numpy, pyarrow, lightgbm and numba); the session's time zone is UTC so that dates
never shift; Spark's UI and its event logs are off (a batch run has no one to look at them).
Nothing is downloaded: the pyspark package carries Spark's jars; Java comes from the system.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pipelines.spark.config import SparkConfig

#: Settings every session gets (a config may add its own).
DEFAULTS: dict[str, str] = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.sql.ansi.enabled": "false",
    "spark.driver.memory": "2g",
    "spark.sql.shuffle.partitions": "8",
}


def session(
    master: str | None = None,
    app: str = "riskclass",
    config: SparkConfig | None = None,
    **conf: str,
) -> Any:
    """A new or the running SparkSession with :data:`DEFAULTS`, then ``config``'s settings
    (``configs/spark.yaml``: master, memory, cores, partitions, Arrow batch rows, code
    generation, JVM options; without a ``config`` `SparkConfig`'s defaults, which the feature
    SQL needs to run at speed), then ``conf``. JVM options and driver memory take effect only
    when this call starts the JVM (the first session of a process).

    ``master`` replaces the config's (a command's ``--spark-master``); without either the
    session runs on ``local[2]``.
    """
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    from pipelines.spark.config import SparkConfig

    settings = dict(DEFAULTS)
    if config is not None:
        config = config.with_master(master)
        master = config.master
        settings.update(config.spark_conf())
    else:
        settings.update(SparkConfig().spark_conf())
    if master is not None and master.startswith(("spark://127.0.0.1:", "spark://localhost:")):
        # a cluster on loopback (`pipelines.spark.cluster`): its executors call the driver back
        settings.setdefault("spark.driver.host", "127.0.0.1")
        settings.setdefault("spark.driver.bindAddress", "127.0.0.1")
    settings.update(conf)
    builder = SparkSession.builder.master(master or "local[2]").appName(app)
    for k, v in settings.items():
        builder = builder.config(k, v)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark
