"""The platform's JSON API (`service.api`) and the bulk export (`pipelines.export`).

Built on the shared small-province service (tests/service/conftest.py), with a copy of the
interim tables of its own: posted results are ingested into it.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import io
import json
import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from jsonschema import Draft202012Validator

from pipelines.config import load_config
from pipelines.export import PLATFORM_COLUMNS, run_export, verify_export
from pipelines.feedback import run_feedback
from pipelines.intake.config import IngestConfig
from service.accounts import Accounts, Policy
from service.api import build_api
from service.app import create_app
from tests.conftest import ROOT
from tests.interim import read_table

# the module on one worker, its `env` copied once; modules balance across workers (the
# service base is built once per worker: tests/service/conftest.py)
pytestmark = pytest.mark.xdist_group("service_api")

FORBIDDEN = ("score", "probability", "risk_1_feature", "override_rule", "margin", "class_model")


class Api:
    def __init__(self, env: Any, root: Path) -> None:
        self.root = root
        interim = root / "interim"
        shutil.copytree(env.settings.interim, interim)
        self.settings = dataclasses.replace(env.settings, interim=interim)
        self.app = create_app(self.settings)
        self.state = self.app.state.rc
        self.app.mount("/api/v1", build_api(self.state, feedback=root / "feedback"))
        self.acc = Accounts(env.settings.accounts, policy=Policy(four_eyes=False))
        self.division = env.division
        self.inside, self.outside = env.inside, env.outside
        self.tokens: dict[str, str] = {}
        for name, divs, scopes in (
            ("county-all", (env.division,), ("classes:read", "results:write", "export:read")),
            ("city-read", (env.division[:4],), ("classes:read", "export:read")),
            ("city-write", (env.division[:4],), ("results:write",)),
        ):
            token, _ = self.acc.add_service(name, divs, scopes, by="setup")
            self.tokens[name] = token
        self.client = TestClient(self.app)

    def get(self, path: str, who: str | None, **params: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"} if who else {}
        return self.client.get(f"/api/v1{path}", params=params, headers=headers)

    def post(self, path: str, who: str, body: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"}
        return self.client.post(f"/api/v1{path}", json=body, headers=headers)

    def audit(self) -> list[dict[str, Any]]:
        log = self.settings.audit_log
        lines = log.read_text(encoding="utf-8").splitlines() if log.is_file() else []
        return [json.loads(x) for x in lines]


@pytest.fixture(scope="module")
def api(env: Any, tmp_path_factory: pytest.TempPathFactory) -> Api:
    return Api(env, tmp_path_factory.mktemp("api"))


def _classes(api: Api) -> pd.DataFrame:
    return pd.read_parquet(api.settings.outputs / "2026-10" / "classes.parquet")


def _registry(api: Api) -> pd.DataFrame:
    return read_table(api.settings.interim, "enterprises")


def test_auth_scopes_and_audit(api: Api) -> None:
    before = len(api.audit())
    r = api.get("/months", None)
    assert r.status_code == 401 and r.headers["WWW-Authenticate"] == "Bearer"
    bad = api.client.get("/api/v1/months", headers={"Authorization": "Bearer rct_00_nope"})
    assert bad.status_code == 401
    ok = api.get("/months", "county-all")
    assert ok.status_code == 200 and ok.json()["months"] == ["2026-09", "2026-10"]
    # a token without classes:read may not read classes; one without results:write not post
    assert api.get("/classes", "city-write").status_code == 403
    assert api.post("/results", "city-read", {"plan_id": "x", "results": []}).status_code == 403
    assert api.get("/classes", "county-all", month="2031-01").status_code == 404
    entries = api.audit()[before:]
    assert [(e["action"], e["outcome"]) for e in entries] == [
        ("api_months", "401"),
        ("api_months", "401"),
        ("api_months", "ok"),
        ("api_classes", "403"),
        ("api_results", "403"),
        ("api_classes", "404"),
    ]
    assert [e["user"] for e in entries] == ["-", "-"] + [
        "service:" + n for n in ("county-all", "city-write", "city-read", "county-all")
    ]


def test_revoked_and_expired_tokens_are_refused(api: Api, tmp_path: Path) -> None:
    token, info = api.acc.add_service("short-lived", (api.division,), ("classes:read",), by="t")
    headers = {"Authorization": f"Bearer {token}"}
    assert api.client.get("/api/v1/months", headers=headers).status_code == 200
    api.acc.revoke_token(info.id)
    assert api.client.get("/api/v1/months", headers=headers).status_code == 401


def test_pages_cover_exactly_the_jurisdiction(api: Api) -> None:
    classes, reg = _classes(api), _registry(api).set_index("uscc")
    division = classes["uscc"].map(reg["division_code"]).astype(str)
    for who, prefix in (("county-all", api.division), ("city-read", api.division[:4])):
        want = classes[division.str.startswith(prefix)].set_index("uscc")["class_final"]
        got: list[dict[str, str]] = []
        cursor = ""
        for _ in range(1000):
            r = api.get("/classes", who, month="2026-10", limit=7, cursor=cursor)
            assert r.status_code == 200, r.text
            page = r.json()
            got += page["items"]
            if page["next_cursor"] is None:
                break
            cursor = page["next_cursor"]
        assert len(got) == len(want) > 7  # more than one page, none twice
        assert {g["uscc"] for g in got} == set(want.index)
        assert all(g["class"] == want[g["uscc"]] for g in got)
        assert set(got[0]) == set(PLATFORM_COLUMNS)
        assert not set(FORBIDDEN) & set(got[0])
    # a division filter inside the jurisdiction narrows; one outside is 404 like a missing one
    r = api.get("/classes", "city-read", division=api.division, limit=5000)
    assert {g["division_code"] for g in r.json()["items"]} == {api.division}
    other = str(reg.loc[api.outside, "division_code"])
    assert api.get("/classes", "county-all", division=other).status_code == 404


def test_one_enterprise_inside_outside_and_missing(api: Api) -> None:
    r = api.get(f"/classes/{api.inside}", "county-all", month="2026-10")
    assert r.status_code == 200 and r.json()["uscc"] == api.inside
    outside = api.get(f"/classes/{api.outside}", "county-all", month="2026-10")
    missing = api.get("/classes/91440000000000000X", "county-all", month="2026-10")
    assert outside.status_code == missing.status_code == 404
    assert outside.json() == missing.json()  # nothing tells outside from missing
    assert "class" not in outside.text.lower().replace("classified", "")


def _plan(api: Api) -> pd.DataFrame:
    return pd.read_csv(
        api.settings.outputs / "2026-10" / "plans" / "routine" / "plan.csv",
        dtype=str,
        keep_default_na=False,
        encoding="utf-8-sig",
    )


def test_results_go_through_feedback_like_the_cli(api: Api, tmp_path: Path) -> None:
    plan = _plan(api)
    plan_id = plan["plan_id"].iloc[0]
    mine = plan[plan["division_code"].str.startswith(api.division[:4])].drop_duplicates("uscc")
    theirs = plan[~plan["division_code"].str.startswith(api.division[:4])].drop_duplicates("uscc")
    assert len(mine) >= 3 and len(theirs) >= 1
    rows = [
        {
            "uscc": u,
            "inspection_id": f"API-{i}",
            "inspection_date": "2026-10-20",
            "result": "未发现问题",
            "problem_found": "false",
            "received_date": "2026-10-25",
        }
        for i, u in enumerate(mine["uscc"].iloc[:3])
    ]
    rows.append({**rows[0], "uscc": theirs["uscc"].iloc[0], "inspection_id": "API-out"})
    rows.append({**rows[0], "uscc": "91440000000000000X", "inspection_id": "API-none"})
    # the same rows through the CLI's stage, on another copy of the interim tables
    cli_interim = tmp_path / "interim"
    shutil.copytree(api.root / "interim", cli_interim)
    before = len(api.audit())
    r = api.post("/results", "city-write", {"plan_id": plan_id, "results": rows})
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["rows_read"] == 5 and got["linked"] == 3
    assert got["accepted"] + got["quarantined"] == 3
    assert [(x["index"], x["rule"]) for x in got["rejected"]] == [
        (3, "not_drawn"),
        (4, "not_drawn"),
    ]
    # outside the jurisdiction reads exactly like not drawn at all
    assert {
        k: v for k, v in got["rejected"][0].items() if k not in ("index", "uscc", "inspection_id")
    } == {
        k: v for k, v in got["rejected"][1].items() if k not in ("index", "uscc", "inspection_id")
    }
    entry = api.audit()[before]
    assert (entry["action"], entry["object"], entry["outcome"]) == ("api_results", plan_id, "ok")
    inspections = read_table(api.root / "interim", "inspections")
    landed = inspections[inspections["inspection_id"].str.startswith("API-")]
    assert len(landed) == got["accepted"] > 0
    # the CLI: rows inside the jurisdiction (the API refuses the one outside before linking)
    results_csv = tmp_path / "results.csv"
    pd.DataFrame([x for i, x in enumerate(rows) if i != 3]).assign(plan_id=plan_id).to_csv(
        results_csv, index=False
    )
    cfg = load_config(ROOT / "configs" / "ingest.yaml", IngestConfig)
    folder = api.settings.outputs / "2026-10" / "plans" / "routine"
    run = run_feedback(folder, results_csv, cli_interim, tmp_path / "feedback", cfg)
    assert run.summary["linked"] == 3
    cli = read_table(cli_interim, "inspections")
    cols = [c for c in landed.columns if not c.startswith("_")]
    a = landed[cols].sort_values("inspection_id").reset_index(drop=True)
    b = cli[cli["inspection_id"].str.startswith("API-")][cols]
    pd.testing.assert_frame_equal(a, b.sort_values("inspection_id").reset_index(drop=True))
    # the same results again: ingestion merges by inspection_id, nothing is added twice
    again = api.post("/results", "city-write", {"plan_id": plan_id, "results": rows[:3]})
    assert again.status_code == 200 and again.json()["linked"] == 3
    after = read_table(api.root / "interim", "inspections")
    assert len(after) == len(inspections)


def test_results_for_a_plan_outside_or_missing(api: Api) -> None:
    body = {"plan_id": "no-such-plan", "results": []}
    missing = api.post("/results", "city-write", body)
    assert missing.status_code == 404
    bad = api.post("/results", "city-write", {"plan_id": "x", "results": [{"uscc": 1}]})
    assert bad.status_code == 422 and "problems" in bad.json()
    extra = api.post("/results", "city-write", {"plan_id": "x", "results": [], "score": 1})
    assert extra.status_code == 422


def test_export_checksum_verifies(api: Api) -> None:
    r = api.get("/export", "city-read", month="2026-10")
    assert r.status_code == 200
    digest = r.headers["X-Content-SHA256"]
    assert hashlib.sha256(r.content).hexdigest() == digest
    side = api.get("/export.sha256", "city-read", month="2026-10").text
    assert side.split() == [digest, r.headers["Content-Disposition"].split('"')[1]]
    frame = pd.read_csv(
        io.StringIO(gzip.decompress(r.content).decode("utf-8-sig")),
        dtype=str,
        keep_default_na=False,
    )
    assert list(frame.columns) == list(PLATFORM_COLUMNS)
    assert frame["division_code"].str.startswith(api.division[:4]).all()
    assert api.get("/export", "city-write").status_code == 403


def test_openapi_document(api: Api) -> None:
    r = api.client.get("/api/v1/openapi.json")
    assert r.status_code == 200
    doc = r.json()
    assert doc["openapi"].startswith("3.")
    assert {"/months", "/classes", "/classes/{uscc}", "/results", "/export"} <= set(doc["paths"])
    assert doc["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    for schema in doc["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)
    for path, ops in doc["paths"].items():
        for op in ops.values():
            assert op["responses"], path
            if path != "/openapi.json":
                assert op.get("security") == [{"HTTPBearer": []}], path
    assert not any(f in json.dumps(doc["components"]["schemas"]) for f in FORBIDDEN)


def test_no_class_in_audit_or_errors(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    codes = set(_classes(api)["class_final"].unique())
    api.get(f"/classes/{api.inside}", "county-all")
    api.get(f"/classes/{api.outside}", "county-all")
    entries = [e for e in api.audit() if e["action"].startswith("api_")]
    assert entries
    for e in entries:
        assert not {"class", "class_final", "score"} & set(e)
        assert not codes & {str(v) for v in e.values()}
    assert not any("class_final" in r.getMessage() for r in caplog.records)


def test_province_export_and_sha256sums(api: Api, tmp_path: Path) -> None:
    run = run_export("2026-10", api.settings.outputs, api.settings.interim, tmp_path / "export")
    frame = pd.read_parquet(run.path)
    assert list(frame.columns) == list(PLATFORM_COLUMNS)
    assert len(frame) == run.rows == len(_classes(api))
    assert frame["uscc"].is_monotonic_increasing
    assert verify_export(tmp_path / "export") == []
    line = (tmp_path / "export" / "SHA256SUMS").read_text()
    assert line == f"{run.sha256}  classes-2026-10.parquet\n"
    again = run_export("2026-10", api.settings.outputs, api.settings.interim, tmp_path / "again")
    assert again.sha256 == run.sha256  # the same month gives the same bytes
    with run.path.open("r+b") as f:
        f.seek(100)
        f.write(b"\x00\x01")
    assert verify_export(tmp_path / "export")


def test_tampered_month_is_503(api: Api, env: Any, tmp_path: Path) -> None:
    outputs = tmp_path / "outputs"
    shutil.copytree(env.settings.outputs, outputs)
    s = dataclasses.replace(api.settings, outputs=outputs, audit_log=outputs / "audit.jsonl")
    app: FastAPI = create_app(s)
    app.mount("/api/v1", build_api(app.state.rc, feedback=tmp_path / "feedback"))
    client = TestClient(app)
    headers = {"Authorization": f"Bearer {api.tokens['county-all']}"}
    assert client.get("/api/v1/classes", headers=headers).status_code == 200
    path = outputs / "2026-10" / "classes.parquet"
    path.write_bytes(path.read_bytes() + b"x")
    r = client.get("/api/v1/classes", params={"month": "2026-10"}, headers=headers)
    assert r.status_code == 503
    assert "classes" not in r.json()["error"]  # counted, not listed
