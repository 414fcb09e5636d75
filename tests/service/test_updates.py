"""Within-month updates in the service: a firm newly put on the serious list is class D in
search and lists the day the delivery is applied (and re-sealed), the updates page lists it
with the reason in the user's jurisdiction only, audited; the enterprise view's notice says
why the class differs from the month-end one."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient

from pipelines.update import run_update
from service import data, seal
from service.accounts import Accounts, Policy
from service.app import Settings, create_app
from service.config import ServiceConfig
from tests.conftest import model_config
from tests.interim import read_table
from tests.pipelines.test_update import MONTH, configs, make_month, serious_rows, write_delivery
from tests.service.conftest import PASSWORD


def _login(app, user: str) -> TestClient:  # type: ignore[no-untyped-def]
    c = TestClient(app)
    page = c.get("/login")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    r = c.post(
        "/login",
        data={"username": user, "password": PASSWORD, "csrf": token},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    return c


@pytest.fixture
def served(small_interim, tmp_path: Path):  # type: ignore[no-untyped-def]
    interim = tmp_path / "interim"
    shutil.copytree(small_interim[1], interim)
    outputs = tmp_path / "outputs"
    month = make_month(interim, outputs)
    audit_log = outputs / "audit.jsonl"
    seal.seal(outputs, MONTH, "admin", audit_log)
    reg = read_table(interim, "enterprises", columns=["uscc", "division_code"])
    reg = reg.set_index("uscc").loc[month[month["override_rule"].isna()]["uscc"]]
    firm = str(reg.index[0])
    division = str(reg["division_code"].iloc[0])
    others = reg[~reg["division_code"].astype(str).str.startswith(division[:4])]
    other_division = str(others["division_code"].iloc[0])
    acc = Accounts(tmp_path / "accounts.sqlite", policy=Policy(four_eyes=False))
    acc.add("county", PASSWORD, "county", (division,), by="setup")
    acc.add("elsewhere", PASSWORD, "county", (other_division,), by="setup")
    acc.add("analyst", PASSWORD, "data_scientist", by="setup")
    cfg = model_config(tmp_path)
    model_yaml = tmp_path / "model.yaml"
    model_yaml.write_text(yaml.safe_dump(cfg.model_dump(mode="json")), encoding="utf-8")
    s = Settings(
        config=ServiceConfig(seal_check_seconds=0, four_eyes=False),
        outputs=outputs,
        interim=interim,
        features=tmp_path / "features",
        model_config=model_yaml,
        accounts=tmp_path / "accounts.sqlite",
        audit_log=audit_log,
    )
    app = create_app(s)  # its routes include the updates pages
    return {"app": app, "firm": firm, "interim": interim, "outputs": outputs, "root": tmp_path,
            "audit": audit_log}  # fmt: skip


def _class_in_search(c: TestClient, firm: str) -> str:
    r = c.get(f"/search?q={firm}")
    assert r.status_code == 200
    row = re.search(rf"{firm}</a></td><td>[^<]*</td><td>[^<]*</td><td>([^<]*)</td>", r.text)
    assert row is not None, r.text
    return row.group(1)


def test_a_firm_newly_on_the_serious_list_is_d_the_day_it_is_delivered(served) -> None:  # type: ignore[no-untyped-def]
    firm, outputs, audit_log = served["firm"], served["outputs"], served["audit"]
    county = _login(served["app"], "county")
    assert _class_in_search(county, firm) == "A"
    day = dt.date(2026, 11, 12)
    delivery = write_delivery(served["root"] / "delivery", {"serious_dishonest_list": serious_rows(
        [firm], ["2026-11-12"], ["2026-11-12"])})  # fmt: skip
    icfg, fcfg, scheme = configs()
    report = run_update(icfg, fcfg, scheme, delivery, served["interim"], outputs, MONTH, day)
    assert report.effects == {"applied": 1}
    # not served until the month is re-sealed: the update file is not covered yet
    assert county.get(f"/search?q={firm}").status_code == 503
    seal.seal(outputs, MONTH, "admin", audit_log, reseal_reason="within-month update")
    assert _class_in_search(county, firm) == "D"
    lists = county.get("/lists?cls=D")
    assert lists.status_code == 200 and firm in lists.text
    assert firm not in county.get("/lists?cls=A").text
    page = county.get("/updates")
    assert page.status_code == 200
    assert firm in page.text and "按规则调整为D类" in page.text
    assert "模型风险分为月末计算，下次月末重新计算" in page.text
    csv = county.get("/updates.csv")
    assert csv.status_code == 200 and firm in csv.text
    # another county does not see it; a data scientist without named lists may not look
    assert firm not in _login(served["app"], "elsewhere").get("/updates").text
    assert _login(served["app"], "analyst").get("/updates").status_code == 403
    entries = [json.loads(line) for line in audit_log.read_text(encoding="utf-8").splitlines()]
    actions = [(e.get("user"), e.get("action")) for e in entries]
    assert ("county", "view_updates") in actions and ("county", "export_updates") in actions
    # the enterprise view's notice: why the class differs from the month end
    state = served["app"].state.rc
    notice = data.update_notice(state, MONTH, firm, "zh")
    assert notice.startswith("2026-11-12 归集：列入严重违法失信名单，按规则调整为D类")
    html = data.with_notice("<html><body class='r'><h1>x</h1></body></html>", notice, "zh")
    assert html.index("update-notice") > html.index("<body") and html.index("<h1>") > html.index(
        notice
    )
    assert data.update_notice(state, MONTH, "none-such", "zh") == ""
    assert "moved to class D by rule" in data.update_notice(state, MONTH, firm, "en")
