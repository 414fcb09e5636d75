"""The staff service on the small province: a sealed month, a plan, one account per role."""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
import yaml
from fastapi.testclient import TestClient

from models.classes import ClassScheme
from models.sampling import Campaign
from pipelines import store
from pipelines.config import load_config
from pipelines.plan import run_plan
from service import seal
from service.accounts import Accounts, Policy
from service.app import Settings, create_app
from service.config import ServiceConfig
from tests.conftest import ROOT

PASSWORD = "correct horse battery"


class Env:
    def __init__(
        self, root: Path, app_settings: Settings, inside: str, outside: str, division: str
    ):
        self.root, self.settings = root, app_settings
        self.inside, self.outside, self.division = inside, outside, division
        self.app = create_app(app_settings)

    def client(self, user: str | None) -> TestClient:
        c = TestClient(self.app)
        if user is not None:
            page = c.get("/login")
            token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
            r = c.post(
                "/login",
                data={"username": user, "password": PASSWORD, "csrf": token},
                follow_redirects=False,
            )
            assert r.status_code == 303, r.text
        return c


@dataclass(frozen=True)
class Base:
    """The service folder built once (sealed months, plan, verification, accounts) and the
    enterprises and division the tests look at; never served itself, only copied."""

    root: Path
    inside: str
    outside: str
    division: str


def settings_for(root: Path, interim: Path, features: Path) -> Settings:
    """The service over a copy of the base folder ``root`` (the interim tables and features
    are the session's, read only)."""
    return Settings(
        config=ServiceConfig(seal_check_seconds=0, four_eyes=False),
        outputs=root / "outputs",
        interim=interim,
        features=features,
        model_config=root / "model.yaml",
        accounts=root / "accounts.sqlite",
        audit_log=root / "outputs" / "audit.jsonl",
    )


@pytest.fixture(scope="session")
def service_base(report_month, small_model, small_history, small_interim, tmp_path_factory) -> Base:  # type: ignore[no-untyped-def]
    """Built once per test process, not once per module: the plan, the verification, the
    seals and six argon2 accounts took 1-3 minutes, and eight modules each built the same.
    Nothing writes here; `env` gives each module a copy (a few MB) to change freely."""
    root = tmp_path_factory.mktemp("service_base")
    outputs = root / "outputs"
    for m in ("2026-09", "2026-10"):
        shutil.copytree(
            report_month.outputs / m, outputs / m, ignore=shutil.ignore_patterns("reports")
        )
    scheme = load_config(ROOT / "configs" / "classes" / "henan.yaml", ClassScheme)
    campaign = load_config(ROOT / "configs" / "campaigns" / "routine.yaml", Campaign)
    run_plan("2026-10", campaign, scheme, 7, outputs, small_interim[1])
    cfg, _ = small_model
    from pipelines.verify import run_verify  # the hot-spot and model pages read its figures

    run_verify(cfg, scheme, small_history, small_interim[1], "2026-10", outputs, hot_spot_min=5)
    model_yaml = root / "model.yaml"
    model_yaml.write_text(yaml.safe_dump(cfg.model_dump(mode="json")), encoding="utf-8")
    audit_log = outputs / "audit.jsonl"
    for m in ("2026-09", "2026-10"):
        seal.seal(outputs, m, "admin", audit_log, small_history / f"{m}.parquet")
    reg = store.open_table(small_interim[1], "enterprises").pandas(["uscc", "division_code"])  # type: ignore[union-attr]
    classed = set(
        pd.read_parquet(outputs / "2026-10" / "classes.parquet", columns=["uscc"])["uscc"]
    )
    reg = reg[reg["uscc"].isin(classed)].sort_values("uscc")
    inside = reg["uscc"].iloc[0]
    division = str(reg["division_code"].iloc[0])
    out_rows = reg[~reg["division_code"].astype(str).str.startswith(division[:4])]
    outside = out_rows["uscc"].iloc[0]
    # one account per role, in force at once (four eyes: tests/service/test_accounts.py)
    acc = Accounts(root / "accounts.sqlite", policy=Policy(four_eyes=False))
    acc.add("county", PASSWORD, "county", (division,), by="setup")
    acc.add("city", PASSWORD, "city", (division[:4],), by="setup")
    acc.add("province", PASSWORD, "province", (division[:2],), by="setup")
    acc.add("analyst", PASSWORD, "data_scientist", by="setup")
    acc.add("granted", PASSWORD, "data_scientist", (division[:2],), named_lists=True, by="setup")
    acc.add("admin", PASSWORD, "admin", by="setup")
    return Base(root, str(inside), str(outside), division)


@pytest.fixture(scope="module")
def env(service_base: Base, small_history, small_interim, tmp_path_factory) -> Env:  # type: ignore[no-untyped-def]
    """A module's own copy of the base folder: its tests log in, add accounts and tokens, open
    cases and write outreach files, so no module sees another's audit entries or accounts."""
    root = tmp_path_factory.mktemp("service")
    shutil.copytree(service_base.root, root, dirs_exist_ok=True)
    b = service_base
    return Env(root, settings_for(root, small_interim[1], small_history), b.inside, b.outside,
               b.division)  # fmt: skip
