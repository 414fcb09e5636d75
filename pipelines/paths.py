"""Every path under ``data/``, ``outputs/`` and ``configs/``: the one place that knows the layout.

Stages, the CLI and the service ask this module for a file instead of spelling it out, so the
layout can change in one place. Paths are relative to the working directory (the repository
root in the Makefile, DVC and the CLI's defaults); a caller that works elsewhere builds its own
:class:`Outputs` or :class:`Data` on another root.

>>> Outputs().classes("2026-10").as_posix()
'outputs/2026-10/classes.parquet'
>>> Outputs(Path("/srv/rc")).plan_csv("2026-10", "routine").as_posix()
'/srv/rc/2026-10/plans/routine/plan.csv'
>>> Data().table("inspections").as_posix()
'data/interim/inspections'
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

#: The configuration folder and the files in it.
CONFIGS = Path("configs")
SIMULATOR_CONFIG = CONFIGS / "simulator.yaml"
INGEST_CONFIG = CONFIGS / "ingest.yaml"
FEATURES_CONFIG = CONFIGS / "features.yaml"
MODEL_CONFIG = CONFIGS / "model.yaml"
REPORT_CONFIG = CONFIGS / "report.yaml"
WARNING_CONFIG = CONFIGS / "warning.yaml"
SERVICE_CONFIG = CONFIGS / "service.yaml"
INDICATOR_WEIGHTS = CONFIGS / "indicator_weights.yaml"
CAMPAIGNS = CONFIGS / "campaigns"
CLASS_SCHEMES = CONFIGS / "classes"


@dataclass(frozen=True)
class Data:
    """``data/``: deliveries as received, the validated tables, features and the demo's keys."""

    root: Path = Path("data")

    @property
    def raw(self) -> Path:
        """Deliveries as a bureau hands them over (never edited)."""
        return self.root / "raw"

    @property
    def raw_messy(self) -> Path:
        """The simulator's messy copy of ``raw`` (exports as departments really send them)."""
        return self.root / "raw_messy"

    @property
    def truth(self) -> Path:
        """The simulator's hidden ground truth (evaluation only)."""
        return self.root / "truth"

    @property
    def interim(self) -> Path:
        """Validated, typed tables (``riskclass ingest``), with quarantine and validation."""
        return self.root / "interim"

    def table(self, name: str) -> Path:
        """The folder of one validated contract table, ``interim/<name>/`` (a Delta table:
        read it through `pipelines.store`, which knows which of its files a state holds)."""
        return table(self.interim, name)

    @property
    def features(self) -> Path:
        """Point-in-time features, one ``<month>.parquet`` per month end."""
        return self.root / "processed" / "features"

    @property
    def keys(self) -> Path:
        return self.root / "keys"

    @property
    def feedback(self) -> Path:
        """Inspection results brought back from the platform (``riskclass feedback``), per plan."""
        return self.root / "feedback"


def table(interim: Path, name: str) -> Path:
    """The folder of a validated contract table (a Delta table) in an interim folder given by
    the caller. Readers never list its files themselves: `pipelines.store.open_table` gives
    the files of the current state (or of an earlier month's)."""
    return Path(interim) / name


def plan_files(folder: Path) -> tuple[Path, Path]:
    """The list (CSV) and its record (JSON, with the seed) in one campaign's plan folder."""
    return Path(folder) / "plan.csv", Path(folder) / "plan.json"


def features_file(features: Path, month: str) -> Path:
    """The feature file of one month in a features folder."""
    return Path(features) / f"{month}.parquet"


@dataclass(frozen=True)
class Outputs:
    """``outputs/``: what a month's run produces, and the records kept across months."""

    root: Path = Path("outputs")

    def month(self, month: str) -> Path:
        return self.root / month

    def classes(self, month: str) -> Path:
        """Every enterprise's class, score and reasons for ``month`` (internal)."""
        return self.month(month) / "classes.parquet"

    def classes_summary(self, month: str) -> Path:
        return self.month(month) / "classes_summary.json"

    def whatif(self, month: str) -> Path:
        """What would lower the risk of the month's high-class enterprises (internal)."""
        return self.month(month) / "whatif.parquet"

    def warnings(self, month: str) -> Path:
        return self.month(month) / "warnings.parquet"

    def warnings_csv(self, month: str) -> Path:
        return self.month(month) / "warnings.csv"

    def verification(self, month: str) -> Path:
        """The folder of a month's verification (metrics.json, verification.html, plots)."""
        return self.month(month) / "verification"

    def verification_metrics(self, month: str) -> Path:
        return self.verification(month) / "metrics.json"

    def verification_html(self, month: str) -> Path:
        return self.verification(month) / "verification.html"

    def reports(self, month: str) -> Path:
        """Enterprise reports, ``<uscc>.html`` (and ``.pdf``)."""
        return self.month(month) / "reports"

    def report(self, month: str, uscc: str) -> Path:
        return self.reports(month) / f"{uscc}.html"

    def plans(self, month: str) -> Path:
        return self.month(month) / "plans"

    def plan(self, month: str, campaign: str) -> Path:
        """The folder of one campaign's inspection plan."""
        return self.plans(month) / campaign

    def plan_csv(self, month: str, campaign: str) -> Path:
        return plan_files(self.plan(month, campaign))[0]

    def plan_xlsx(self, month: str, campaign: str) -> Path:
        return self.plan(month, campaign) / "plan.xlsx"

    def plan_json(self, month: str, campaign: str) -> Path:
        return plan_files(self.plan(month, campaign))[1]

    def loop(self, to: str) -> Path:
        """The simulated monthly loop that ends in ``to``."""
        return self.root / "loop" / to

    def loop_json(self, to: str) -> Path:
        """The loop's summary and month-by-month detail."""
        return self.loop(to) / "loop.json"

    def loop_policies_csv(self, to: str) -> Path:
        return self.loop(to) / "policies_by_month.csv"

    def loop_estimates_csv(self, to: str) -> Path:
        return self.loop(to) / "estimates_by_month.csv"

    @property
    def audit_log(self) -> Path:
        return self.root / "audit.jsonl"

    @property
    def promotions(self) -> Path:
        return self.root / "promotions.jsonl"

    @property
    def seals(self) -> Path:
        return self.root / "seals.jsonl"

    @property
    def service(self) -> Path:
        return self.root / "service"

    @property
    def accounts(self) -> Path:
        return self.service / "accounts.sqlite"

    @property
    def cases(self) -> Path:
        """The follow-up of problems found (`pipelines.cases`): one SQLite store, not per month."""
        return self.root / "cases" / "cases.sqlite"

    @property
    def ingest_reconciliation(self) -> Path:
        return self.root / "ingest_reconciliation.json"

    @property
    def simulation_summary(self) -> Path:
        """The synthetic province's summary figures (``riskclass simulate``)."""
        return self.root / "simulation_summary.json"

    @property
    def features_summary(self) -> Path:
        return self.root / "features_summary.json"

    @property
    def train_metrics(self) -> Path:
        return self.root / "train_metrics.json"


DATA = Data()
OUTPUTS = Outputs()
