"""The outreach downloads (service.outreach): a county's reminders and publications for a
sealed month, within its jurisdiction, audited, with the month's seal still checking."""

from __future__ import annotations

import io
import json
import zipfile

import pandas as pd
import pytest

from features.reminders import OutreachConfig
from pipelines.config import load_config
from pipelines.publish import publish_dormant, publish_inspections
from pipelines.remind import run_remind
from pipelines.report import chromium, to_pdf
from tests.conftest import ROOT
from tests.interim import read_table
from tests.pipelines.outreach_scan import leaks

# the module on one worker, its `env` copied once; modules balance across workers (the
# service base is built once per worker: tests/service/conftest.py)
pytestmark = pytest.mark.xdist_group("service_outreach")


def _has_chromium() -> bool:
    try:
        chromium()
    except Exception:
        return False
    return True


@pytest.fixture(scope="module")
def outreach(env):  # type: ignore[no-untyped-def]
    """Reminders of the county user's division and of one outside its city; the largest
    round's results and the dormant list, written after the months were sealed."""
    cfg = load_config(ROOT / "configs" / "remind.yaml", OutreachConfig)
    s = env.settings
    reg = read_table(s.interim, "enterprises", columns=["uscc", "division_code"])
    other = str(reg.set_index("uscc").at[env.outside, "division_code"])
    fmt = "both" if _has_chromium() else "html"
    mine = run_remind(
        "2026-10", cfg, s.interim, s.outputs, division=env.division, fmt=fmt, printer=to_pdf
    )
    run_remind("2026-10", cfg, s.interim, s.outputs, division=other, fmt="html")
    insp = read_table(s.interim, "inspections", columns=["plan_id"])
    plan_id = str(insp["plan_id"].value_counts().index[0])
    publish_inspections(plan_id, "2026-10", "任务", cfg, s.interim, s.outputs)
    publish_dormant("2026-10", cfg, s.interim, s.outputs)
    return mine, other, plan_id


def _audit(env) -> list[dict[str, object]]:  # type: ignore[no-untyped-def]
    lines = env.settings.audit_log.read_text(encoding="utf-8").splitlines()
    return [json.loads(x) for x in lines if x.strip()]


def test_the_page_lists_only_the_users_divisions(env, outreach) -> None:  # type: ignore[no-untyped-def]
    _, other, plan_id = outreach
    r = env.client("county").get("/outreach?month=2026-10")
    assert r.status_code == 200, r.text
    assert f"/outreach/reminders/{env.division}.zip" in r.text
    assert f"/outreach/reminders/{other}.zip" not in r.text
    assert f"/outreach/publication/{plan_id}.csv" in r.text
    assert _audit(env)[-1]["action"] == "view_outreach"
    # the sealed month still checks: the files live outside it
    assert env.client("county").get("/plans?month=2026-10").status_code == 200


def test_a_county_downloads_its_batch_and_nothing_else(env, outreach, report_month) -> None:  # type: ignore[no-untyped-def]
    mine, other, _ = outreach
    c = env.client("county")
    r = c.get(f"/outreach/reminders/{env.division}.zip?month=2026-10")
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(r.content)) as z:
        names = set(z.namelist())
        assert {"index.html", "index.csv", "remind.json"} <= names
        assert {p.name for p in mine.notices} <= names
    entry = _audit(env)[-1]
    assert (entry["action"], entry["object"]) == ("export_reminders", f"2026-10/{env.division}")
    if mine.pdf is not None:
        r = c.get(f"/outreach/reminders/{env.division}.pdf?month=2026-10")
        assert r.status_code == 200 and r.content[:5] == b"%PDF-"
    r = c.get(f"/outreach/reminders/{other}.zip?month=2026-10")
    assert r.status_code == 404  # another county's batch: as if it did not exist
    refused = _audit(env)[-1]  # every refusal is on record (the app's handler)
    assert (refused["action"], refused["outcome"]) == ("refused", "404")
    assert c.get("/outreach/reminders/..%2F..%2Fx.zip?month=2026-10").status_code == 404
    assert env.client("analyst").get(
        f"/outreach/reminders/{env.division}.zip?month=2026-10"
    ).status_code in (401, 403)
    assert env.client(None).get(
        f"/outreach/reminders/{env.division}.zip?month=2026-10"
    ).status_code in (302, 401)


def test_publication_rows_are_those_of_the_jurisdiction(
    env, outreach, report_month, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    _, _, plan_id = outreach
    reg = read_table(
        env.settings.interim, "enterprises", columns=["uscc", "division_code"]
    ).set_index("uscc")["division_code"]
    for name in (plan_id, "dormant"):
        r = env.client("county").get(f"/outreach/publication/{name}.csv?month=2026-10")
        assert r.status_code == 200, r.text
        rows = pd.read_csv(io.StringIO(r.content.decode("utf-8-sig")), dtype=str)
        assert rows["统一社会信用代码"].map(reg).astype(str).str.startswith(env.division).all()
        whole = pd.read_csv(io.StringIO(
            env.client("province").get(f"/outreach/publication/{name}.csv?month=2026-10")
            .content.decode("utf-8-sig")), dtype=str)  # fmt: skip
        assert len(rows) <= len(whole)
        path = tmp_path / f"{name}.csv"
        path.write_bytes(r.content)
        assert leaks(path, report_month.scheme) == []
        assert _audit(env)[-1]["action"] == "export_publication"
    assert env.client("county").get("/outreach/publication/nope.csv").status_code == 404
