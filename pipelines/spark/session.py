"""A SparkSession for the pipeline: master from config (``local[N]`` or ``spark://host:port``).

Workers run this project's own interpreter (the virtual environment's, so that they import
the same numpy, pyarrow, lightgbm and numba); the session's time zone is UTC so that dates
never shift; Spark's UI and its event logs are off (a batch run has no one to look at them).
Nothing is downloaded: the pyspark package carries Spark's jars; Java comes from the system.
"""

from __future__ import annotations

import os
import sys
from typing import Any

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


def session(master: str = "local[2]", app: str = "riskclass", **conf: str) -> Any:
    """A new or the running SparkSession on ``master`` with :data:`DEFAULTS` and ``conf``."""
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.master(master).appName(app)
    for k, v in {**DEFAULTS, **conf}.items():
        builder = builder.config(k, v)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark
