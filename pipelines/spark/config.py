"""What the Spark engine is given (`configs/spark.yaml`): where to run and how big its pieces are.

A bureau sets its cluster once here; a command's ``--spark-master`` replaces only ``master``
(:meth:`SparkConfig.with_master`). The settings become Spark's own keys in
:meth:`SparkConfig.spark_conf`, which :func:`pipelines.spark.session.session` applies.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from pipelines.config import ConfigError, load_config

#: The shipped configuration, used when a command is given none.
DEFAULT_PATH = Path("configs/spark.yaml")

_MEMORY = re.compile(r"^[1-9][0-9]*[kmgt]$")
_MASTER = re.compile(r"^(local(\[([1-9][0-9]*|\*)\])?|spark://[^\s/:]+:[0-9]+(,[^\s/:]+:[0-9]+)*)$")


class SparkConfig(BaseModel):
    """`configs/spark.yaml`: the master and the sizes of the session's executors and batches."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: ``local[N]`` / ``local[*]`` or ``spark://host:port`` (a standalone master)
    master: str = "local[2]"
    #: JVM memory of the driver (``2g``): it coordinates and reads no result rows
    driver_memory: str = "2g"
    #: JVM memory of each executor on a cluster (``1g``); local[N] runs in the driver
    executor_memory: str = "1g"
    #: cores of each executor on a cluster
    executor_cores: Annotated[int, Field(ge=1, le=256)] = 1
    #: ``spark.sql.shuffle.partitions``: the default 200 is far too many for a province
    shuffle_partitions: Annotated[int, Field(ge=1, le=100_000)] = 8
    #: rows per Arrow batch given to the model and TreeSHAP (bounds a Python worker's memory)
    arrow_batch_rows: Annotated[int, Field(ge=100, le=1_000_000)] = 2000
    #: ``spark.sql.codegen.maxFields``: Spark compiles a plan into one Java method per stage
    #: only while its rows have at most this many columns (Spark's default: 100). The final
    #: join of a feature month carries every block's columns (several hundred), and above the
    #: limit each of its ~20 joins copies whole rows through a generic projection: measured
    #: 2.4 times slower on that query (20,000 firms)
    codegen_max_fields: Annotated[int, Field(ge=100, le=100_000)] = 2000
    #: options of the driver's and the executors' JVMs. ``ReservedCodeCacheSize``: the many
    #: large generated classes of a feature month filled the default code cache ("CodeCache
    #: is full. Compiler has been disabled": everything after that is interpreted, many times
    #: slower). ``TieredStopAtLevel=1``: only the JIT's quick compiler; the optimising one
    #: spent more CPU compiling generated code, each used for seconds, than it saved (the
    #: blocks of a month: 40 s -> 27 s at 20,000 firms); a cluster that runs hours may drop it
    jvm_options: str = "-XX:ReservedCodeCacheSize=512m -XX:TieredStopAtLevel=1"
    #: any other Spark setting by its Spark name (``spark.local.dir``: ...)
    conf: dict[str, str] = Field(default_factory=dict)

    @field_validator("master")
    @classmethod
    def _master(cls, value: str) -> str:
        """A typo in the master would otherwise surface as a Java stack trace."""
        if not _MASTER.match(value):
            raise ValueError(f"master {value!r}: give local[N], local[*] or spark://host:port")
        return value

    @field_validator("driver_memory", "executor_memory")
    @classmethod
    def _memory(cls, value: str) -> str:
        """Spark's own size syntax (``512m``, ``2g``), checked here rather than in the JVM."""
        value = value.strip().lower()
        if not _MEMORY.match(value):
            raise ValueError(f"{value!r}: give a size such as 512m or 2g")
        return value

    @field_validator("conf")
    @classmethod
    def _conf(cls, value: dict[str, str]) -> dict[str, str]:
        """Only Spark's own keys: anything else would be ignored by Spark without a word."""
        for key in value:
            if not key.startswith("spark."):
                raise ValueError(f"conf: {key!r} is not a Spark setting (they start with spark.)")
        return value

    def with_master(self, master: str | None) -> SparkConfig:
        """This configuration on ``master`` (a command's ``--spark-master``), if one is given."""
        if master is None or master == self.master:
            return self
        try:
            return SparkConfig.model_validate({**self.model_dump(), "master": master})
        except ValidationError as exc:
            raise ConfigError(f"--spark-master: {exc.errors()[0]['msg']}") from exc

    def spark_conf(self) -> dict[str, str]:
        """The settings as Spark's own keys (``conf`` last, so that it may override them)."""
        return {
            "spark.driver.memory": self.driver_memory,
            "spark.executor.memory": self.executor_memory,
            "spark.executor.cores": str(self.executor_cores),
            "spark.sql.shuffle.partitions": str(self.shuffle_partitions),
            "spark.sql.execution.arrow.maxRecordsPerBatch": str(self.arrow_batch_rows),
            "spark.sql.codegen.maxFields": str(self.codegen_max_fields),
            "spark.driver.extraJavaOptions": self.jvm_options,
            "spark.executor.extraJavaOptions": self.jvm_options,
            **self.conf,
        }


def load_spark_config(path: str | Path | None = None) -> SparkConfig:
    """`configs/spark.yaml` (or ``path``) validated; the defaults if the shipped file is absent."""
    if path is None:
        if not DEFAULT_PATH.is_file():
            return SparkConfig()
        path = DEFAULT_PATH
    return load_config(path, SparkConfig)
