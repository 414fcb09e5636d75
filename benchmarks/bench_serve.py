"""Load test of the staff service on loopback: N concurrent users for S seconds.

Needs the demo's outputs (``make demo``). The month is copied (without the static report
files, which the service does not read) to ``data/bench/serve/`` and sealed there, with
its own accounts and audit log, so the demo's files are not touched. One account per
county (the counties with the most enterprises), each user working only within their own
county. The service runs as its own process (uvicorn, one worker, access log off, as
`riskclass serve` starts it); the users are threads with their own sessions, each logging
in through the form and then, until the time is up, sending a request and thinking
``--think`` seconds: a search by USCC (40%), an enterprise's report (30%), the class-D list
of the county (20%), the hot spots (10%). Latency is measured per request at the client.

    python benchmarks/bench_serve.py --users 50 --seconds 60

Writes ``benchmarks/results/serve.json``: per endpoint and overall p50 / p95 / max latency,
requests, errors (any status but 200), and the first report's time after start (the month's
report context is loaded once, then cached).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import psutil
from common import ROOT, machine

RESULTS = ROOT / "benchmarks" / "results" / "serve.json"
WORK = ROOT / "data" / "bench" / "serve"
PASSWORD = "benchmark password 1"
MIX = (("search", 0.4), ("report", 0.3), ("list", 0.2), ("hotspots", 0.1))


def prepare(month: str, users: int) -> tuple[Path, list[tuple[str, list[str]]]]:
    src = ROOT / "outputs" / month
    if not (src / "classes.parquet").is_file():
        raise SystemExit(f"no classified month {src}; run `make demo` first")
    shutil.rmtree(WORK, ignore_errors=True)
    outputs = WORK / "outputs"
    shutil.copytree(src, outputs / month, ignore=shutil.ignore_patterns("reports"))
    from service import seal
    from service.accounts import Accounts

    seal.seal(outputs, month, "bench", outputs / "audit.jsonl")
    reg = pd.read_parquet(ROOT / "data" / "interim" / "enterprises.parquet",
                          columns=["uscc", "division_code"])  # fmt: skip
    classed = pd.read_parquet(src / "classes.parquet", columns=["uscc"])
    reg = reg[reg["uscc"].isin(set(classed["uscc"]))]
    counties = reg["division_code"].astype(str).value_counts().head(users).index
    acc = Accounts(WORK / "accounts.sqlite")
    plan = []
    for i, code in enumerate(counties):
        name = f"county{i:02d}"
        acc.add(name, PASSWORD, "county", (code,))
        firms = reg.loc[reg["division_code"].astype(str) == code, "uscc"].sort_values().tolist()
        plan.append((name, firms))
    return outputs, plan


def start_server(outputs: Path, port: int) -> subprocess.Popen[bytes]:
    code = (
        "import uvicorn; from pathlib import Path; from service.app import Settings, create_app; "
        f"s = Settings(outputs=Path({str(outputs)!r}), accounts=Path({str(WORK / 'accounts.sqlite')!r}), "
        f"audit_log=Path({str(outputs / 'audit.jsonl')!r})); "
        f"uvicorn.run(create_app(s), host='127.0.0.1', port={port}, access_log=False, log_level='warning')"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT)
    import httpx

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/login", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.3)
    proc.kill()
    raise SystemExit("the service did not start")


def user_loop(base: str, name: str, firms: list[str], until: float, think: float, seed: int,
              out: list[tuple[str, float, int]]) -> None:  # fmt: skip
    import httpx

    rng = np.random.default_rng(seed)
    with httpx.Client(base_url=base, timeout=120) as c:
        token = re.search(r'name="csrf" value="([^"]+)"', c.get("/login").text).group(1)  # type: ignore[union-attr]
        t0 = time.perf_counter()
        r = c.post("/login", data={"username": name, "password": PASSWORD, "csrf": token})
        out.append(("login", time.perf_counter() - t0, r.status_code))
        kinds, weights = zip(*MIX, strict=True)
        while time.monotonic() < until:
            kind = kinds[rng.choice(len(kinds), p=weights)]
            u = firms[int(rng.integers(len(firms)))]
            url = {"search": f"/search?q={u}", "report": f"/enterprise/{u}",
                   "list": "/lists?cls=D", "hotspots": "/hotspots"}[kind]  # fmt: skip
            t0 = time.perf_counter()
            try:
                status = c.get(url).status_code
            except httpx.HTTPError:
                status = -1
            out.append((kind, time.perf_counter() - t0, status))
            time.sleep(think)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--users", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--think", type=float, default=1.0, help="pause after each request (s)")
    ap.add_argument("--month", default="2026-10")
    args = ap.parse_args()
    outputs, plan = prepare(args.month, args.users)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = start_server(outputs, port)
    base = f"http://127.0.0.1:{port}"
    try:
        import httpx

        with httpx.Client(base_url=base, timeout=300) as c:  # the first report loads the month
            token = re.search(r'name="csrf" value="([^"]+)"', c.get("/login").text).group(1)  # type: ignore[union-attr]
            c.post("/login", data={"username": plan[0][0], "password": PASSWORD, "csrf": token})
            t0 = time.perf_counter()
            first = c.get(f"/enterprise/{plan[0][1][0]}").status_code
            first_s = time.perf_counter() - t0
        samples: list[tuple[str, float, int]] = []
        until = time.monotonic() + args.seconds
        threads = [threading.Thread(target=user_loop, args=(base, n, f, until, args.think, i, samples))
                   for i, (n, f) in enumerate(plan)]  # fmt: skip
        server_peak = 0
        for t in threads:
            t.start()
        ps = psutil.Process(proc.pid)
        while any(t.is_alive() for t in threads):
            server_peak = max(server_peak, ps.memory_info().rss)
            time.sleep(0.5)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    frame = pd.DataFrame(samples, columns=["kind", "seconds", "status"])
    work = frame[frame["kind"] != "login"]

    def stats(g: pd.DataFrame) -> dict[str, float]:
        return {"requests": len(g), "errors": int((g["status"] != 200).sum()),
                "p50_ms": round(1000 * g["seconds"].quantile(0.5), 1),
                "p95_ms": round(1000 * g["seconds"].quantile(0.95), 1),
                "max_ms": round(1000 * g["seconds"].max(), 1)}  # fmt: skip

    result = {
        "machine": machine(), "users": args.users, "seconds": args.seconds, "think_seconds": args.think,
        "month": args.month, "first_report_seconds": round(first_s, 2), "first_report_status": first,
        "overall": {**stats(work), "requests_per_second": round(len(work) / args.seconds, 1)},
        "by_endpoint": {k: stats(g) for k, g in work.groupby("kind")},
        "logins": {**stats(frame[frame["kind"] == "login"].assign(status=lambda f: f["status"].replace(303, 200))),
               "note": "303 (redirect after login) counts as success"},
        "server_peak_rss_gib": round(server_peak / 2**30, 2),
    }  # fmt: skip
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
