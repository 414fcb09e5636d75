"""Throughput and latency of the platform's JSON API (`service.api`) on loopback.

Needs the demo's outputs (``make demo``). The month's classes and plans and the interim tables
are copied to ``/tmp/riskclass-bench-api/`` and the month is sealed there, with its own
accounts and audit log, so the demo's files are not touched. The service runs as its own
process (uvicorn, one worker, access log off, as `riskclass serve` starts it) with the API
mounted at ``/api/v1``; a province-wide service account's token is made for it.

Two phases, latency measured per request at the client:

- ``GET /classes``: ``--clients`` coroutines walk the month's pages (``--limit`` rows each,
  by cursor) back to back for ``--seconds``;
- ``POST /results``: ``--posts`` postings of ``--rows`` results each, one after another (the
  API ingests one posting at a time), drawn from the month's routine plan; each posting is
  linked and merged into the copied inspections table exactly as `riskclass feedback` does.

    python benchmarks/bench_api.py --clients 4 --seconds 20 --rows 200 --posts 10

Writes ``benchmarks/results/api.json``: requests, requests/s, p50/p95/p99/max latency and
errors (any status but 200) per phase, rows/s for the results.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from common import ROOT, machine

RESULTS = ROOT / "benchmarks" / "results"
WORK = Path("/tmp/riskclass-bench-api")


def prepare(month: str) -> tuple[Path, str]:
    """The copied, sealed month and a province-wide token for it."""
    from pipelines import paths
    from service import seal
    from service.accounts import Accounts, Policy

    demo = paths.Outputs(ROOT / paths.OUTPUTS.root)
    if not demo.classes(month).is_file():
        raise SystemExit(f"no classified month {demo.month(month)}; run `make demo` first")
    shutil.rmtree(WORK, ignore_errors=True)
    outputs = WORK / "outputs"
    (outputs / month).mkdir(parents=True)
    for name in ("classes.parquet", "classes_summary.json"):
        shutil.copy2(demo.month(month) / name, outputs / month / name)
    shutil.copytree(demo.plans(month), outputs / month / "plans")
    shutil.copytree(ROOT / paths.DATA.interim, WORK / "interim")
    seal.seal(outputs, month, "bench", outputs / "audit.jsonl")
    acc = Accounts(WORK / "accounts.sqlite", policy=Policy(four_eyes=False))
    token, _ = acc.add_service(
        "bench-platform", ("44",), ("classes:read", "results:write", "export:read"), by="bench"
    )
    return outputs, token


def serve(port: int) -> None:
    """The server process: the staff service with the API mounted (as the lead will)."""
    import uvicorn

    from service.api import build_api
    from service.app import Settings, create_app
    from service.config import ServiceConfig

    outputs = WORK / "outputs"
    s = Settings(
        # a posting of a few hundred results is over the pages' 64 KiB body limit
        config=ServiceConfig(four_eyes=False, workers=1, max_body_kib=4096),
        outputs=outputs,
        interim=WORK / "interim",
        accounts=WORK / "accounts.sqlite",
        audit_log=outputs / "audit.jsonl",
    )
    app = create_app(s)
    app.mount("/api/v1", build_api(app.state.rc, feedback=WORK / "feedback"))
    uvicorn.run(app, host="127.0.0.1", port=port, access_log=False, log_level="warning")


def start_server(port: int) -> subprocess.Popen[bytes]:
    import httpx

    proc = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), "--serve", str(port)], cwd=ROOT
    )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/v1/openapi.json", timeout=2).is_success:
                return proc
        except httpx.HTTPError:
            time.sleep(0.3)
    proc.kill()
    raise SystemExit("the service did not start")


def stats(latencies: list[float], errors: int, wall: float) -> dict[str, Any]:
    if not latencies:
        return {"requests": 0}
    ms = np.array(latencies) * 1000
    return {
        "requests": len(latencies),
        "errors": errors,
        "wall_s": round(wall, 2),
        "requests_per_s": round(len(latencies) / wall, 1) if wall else None,
        "p50_ms": round(float(np.percentile(ms, 50)), 1),
        "p95_ms": round(float(np.percentile(ms, 95)), 1),
        "p99_ms": round(float(np.percentile(ms, 99)), 1),
        "max_ms": round(float(ms.max()), 1),
    }


async def pages(base: str, token: str, month: str, clients: int, seconds: float, limit: int) -> Any:
    import httpx

    latencies: list[float] = []
    errors = 0
    headers = {"Authorization": f"Bearer {token}"}

    async def walk(client: httpx.AsyncClient, stop: float) -> None:
        nonlocal errors
        cursor = ""
        while time.monotonic() < stop:
            t = time.perf_counter()
            r = await client.get(
                f"{base}/classes", params={"month": month, "limit": limit, "cursor": cursor}
            )
            latencies.append(time.perf_counter() - t)
            if r.status_code != 200:
                errors += 1
                cursor = ""
                continue
            cursor = r.json()["next_cursor"] or ""

    async with httpx.AsyncClient(headers=headers, timeout=60) as client:
        await client.get(f"{base}/classes", params={"month": month, "limit": 1})  # warm-up
        start = time.monotonic()
        await asyncio.gather(*(walk(client, start + seconds) for _ in range(clients)))
        wall = time.monotonic() - start
    return stats(latencies, errors, wall)


def postings(base: str, token: str, month: str, rows: int, posts: int) -> Any:
    import httpx

    plan = pd.read_csv(
        WORK / "outputs" / month / "plans" / "routine" / "plan.csv",
        dtype=str,
        keep_default_na=False,
        encoding="utf-8-sig",
    ).drop_duplicates("uscc")
    plan_id = str(plan["plan_id"].iloc[0])
    latencies: list[float] = []
    errors = accepted = 0
    with httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=300) as client:
        start = time.monotonic()
        for k in range(posts):
            chunk = plan.iloc[(k * rows) % len(plan) :][:rows]
            body = {
                "plan_id": plan_id,
                "results": [
                    {
                        "uscc": u,
                        "inspection_id": f"BENCH-{u}",
                        "inspection_date": f"{month}-20",
                        "result": "未发现问题",
                        "problem_found": "false",
                        "received_date": f"{month}-25",
                    }
                    for u in chunk["uscc"]
                ],
            }
            t = time.perf_counter()
            r = client.post(f"{base}/results", json=body)
            latencies.append(time.perf_counter() - t)
            if r.status_code != 200:
                errors += 1
                print(r.status_code, r.text[:300], file=sys.stderr)
            else:
                accepted += r.json()["accepted"]
        wall = time.monotonic() - start
    out = stats(latencies, errors, wall)
    rate = round(rows * posts / wall, 1) if wall else None
    out.update(rows_per_post=rows, accepted=accepted, rows_per_s=rate)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--month", default="2026-10")
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--limit", type=int, default=1000)
    ap.add_argument("--rows", type=int, default=200)
    ap.add_argument("--posts", type=int, default=10)
    ap.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        serve(args.serve)
        return
    _, token = prepare(args.month)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = start_server(port)
    base = f"http://127.0.0.1:{port}/api/v1"
    try:
        got = asyncio.run(pages(base, token, args.month, args.clients, args.seconds, args.limit))
        posted = postings(base, token, args.month, args.rows, args.posts)
    finally:
        proc.terminate()
        proc.wait(30)
    result = {
        "month": args.month,
        "enterprises": int(
            pd.read_parquet(
                WORK / "outputs" / args.month / "classes.parquet", columns=["uscc"]
            ).shape[0]
        ),
        "machine": machine(),
        "get_classes": {"clients": args.clients, "limit": args.limit, **got},
        "post_results": posted,
        "note": "one uvicorn worker on loopback; every call audited (a hash-chained append)",
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "api.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
