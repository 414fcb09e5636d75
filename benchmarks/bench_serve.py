"""Load test of the staff service on loopback: N concurrent users for S seconds.

Needs the demo's outputs (``make demo``). The month is copied whole (its thousands of report
files too: the service checks them against the seal) to ``data/bench/serve/`` and sealed
there, with its own accounts and audit log, so the demo's files are not touched. One account
per user, each a county user of one county (the counties with the most enterprises, in turn
when there are more users than counties), working only within that county. The service runs
as its own process (uvicorn, one worker, access log off, proxy headers off, as `riskclass
serve` starts it); the users are coroutines of one event loop with their own sessions, each
logging in through the form and then, until the time is up, sending a request and thinking
``--think`` seconds (``--think 0``: back to back, no think time): a search by USCC (40%),
an enterprise's report (30%), the class-D list of the county (20%), the hot spots (10%).
Latency is measured per request at the client.

    python benchmarks/bench_serve.py --users 30 --think 0 --seconds 60    # back to back
    python benchmarks/bench_serve.py --users 200 --think 1 --seconds 60   # many users

Writes ``benchmarks/results/serve_<users>u_think<think>.json``: per endpoint and overall p50 /
p95 / max latency, requests, errors (any status but 200), the first report's time after
start (the month's report context is loaded once, then cached), the server's memory after
warm-up, at its peak and 10 s after the load ended, and the targets (p95 <= 1 s, no errors,
memory after the load within 10% of after warm-up) met or not.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import psutil
from common import ROOT, machine, tree_rss

RESULTS = ROOT / "benchmarks" / "results"
WORK = ROOT / "data" / "bench" / "serve"
PASSWORD = "benchmark password 1"
MIX = (("search", 0.4), ("report", 0.3), ("list", 0.2), ("hotspots", 0.1))


def prepare(month: str, users: int) -> tuple[Path, list[tuple[str, list[str]]]]:
    from pipelines import paths, store
    from service import seal
    from service.accounts import Accounts, Policy

    demo = paths.Outputs(ROOT / paths.OUTPUTS.root)
    src = demo.month(month)
    if not demo.classes(month).is_file():
        raise SystemExit(f"no classified month {src}; run `make demo` first")
    shutil.rmtree(WORK, ignore_errors=True)
    outputs = WORK / "outputs"
    shutil.copytree(src, outputs / month)
    seal.seal(outputs, month, "bench", paths.Outputs(outputs).audit_log)
    reg = store.open_table(ROOT / paths.DATA.interim, "enterprises").pandas(
        ["uscc", "division_code"]
    )  # type: ignore[union-attr]
    classed = pd.read_parquet(demo.classes(month), columns=["uscc"])
    reg = reg[reg["uscc"].isin(set(classed["uscc"]))]
    counties = reg["division_code"].astype(str).value_counts().index
    acc = Accounts(WORK / "accounts.sqlite", policy=Policy(four_eyes=False))  # in force at once
    plan = []
    for i in range(users):
        code = counties[i % len(counties)]
        name = f"county{i:03d}"
        acc.add(name, PASSWORD, "county", (code,), by="bench")
        firms = reg.loc[reg["division_code"].astype(str) == code, "uscc"].sort_values().tolist()
        plan.append((name, firms))
    return outputs, plan


def start_server(outputs: Path, port: int, workers: int) -> subprocess.Popen[bytes]:
    code = (
        "from pathlib import Path; from service.app import Settings, run; "
        "from service.config import ServiceConfig; "
        f"s = Settings(config=ServiceConfig(four_eyes=False, workers={workers}), "
        f"outputs=Path({str(outputs)!r}), accounts=Path({str(WORK / 'accounts.sqlite')!r}), "
        f"audit_log=Path({str(outputs / 'audit.jsonl')!r})); run(s, '127.0.0.1', {port})"
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


async def user_loop(
    base: str,
    name: str,
    firms: list[str],
    until: float,
    think: float,
    seed: int,
    out: list[tuple[str, float, int, float]],
) -> None:
    """One user: logs in, then requests and thinks until ``until`` (a coroutine: the load
    generator is one event loop, so that its own cost stays small beside the server's)."""
    import httpx

    rng = np.random.default_rng(seed)
    async with httpx.AsyncClient(base_url=base, timeout=120) as c:
        page = (await c.get("/login")).text
        token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
        t0 = time.perf_counter()
        r = await c.post("/login", data={"username": name, "password": PASSWORD, "csrf": token})
        out.append(("login", time.perf_counter() - t0, r.status_code, t0))
        kinds, weights = [k for k, _ in MIX], [w for _, w in MIX]
        while time.monotonic() < until:
            kind = kinds[rng.choice(len(kinds), p=weights)]
            u = firms[int(rng.integers(len(firms)))]
            url = {
                "search": f"/search?q={u}",
                "report": f"/enterprise/{u}",
                "list": "/lists?cls=D",
                "hotspots": "/hotspots",
            }[kind]
            t0 = time.perf_counter()
            try:
                status = (await c.get(url)).status_code
            except httpx.HTTPError:
                status = -1
            out.append((kind, time.perf_counter() - t0, status, t0))
            await asyncio.sleep(think)


def tree_cpu(proc: psutil.Process) -> float:
    """CPU seconds (user + system) of the server and its worker processes."""
    total = 0.0
    for p in [proc, *proc.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):
            total += sum(p.cpu_times()[:2])
    return total


async def load(
    base: str, plan: list[tuple[str, list[str]]], seconds: float, think: float, ps: psutil.Process
) -> tuple[list[tuple[str, float, int, float]], int]:
    """Every user at once; the samples, and the server's peak memory while they ran."""
    samples: list[tuple[str, float, int, float]] = []
    peak = 0

    async def watch() -> None:
        nonlocal peak
        while True:
            peak = max(peak, tree_rss(ps))
            await asyncio.sleep(0.5)

    watcher = asyncio.create_task(watch())
    until = time.monotonic() + seconds
    await asyncio.gather(
        *(user_loop(base, n, f, until, think, i, samples) for i, (n, f) in enumerate(plan))
    )
    watcher.cancel()
    return samples, peak


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--users", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--think", type=float, default=1.0, help="pause after each request (s)")
    ap.add_argument("--month", default="2026-10")
    ap.add_argument(
        "--workers", type=int, default=2, help="service processes (configs/service.yaml)"
    )
    args = ap.parse_args()
    outputs, plan = prepare(args.month, args.users)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = start_server(outputs, port, args.workers)
    base = f"http://127.0.0.1:{port}"
    try:
        import httpx

        with httpx.Client(base_url=base, timeout=300) as c:  # the first report loads the month
            token = re.search(r'name="csrf" value="([^"]+)"', c.get("/login").text).group(1)  # type: ignore[union-attr]
            c.post("/login", data={"username": plan[0][0], "password": PASSWORD, "csrf": token})
            t0 = time.perf_counter()
            first = c.get(f"/enterprise/{plan[0][1][0]}").status_code
            first_s = time.perf_counter() - t0
        for _ in range(4 * args.workers):  # new connections: every worker loads the month
            with httpx.Client(base_url=base, timeout=300, cookies=c.cookies) as w:
                w.get(f"/enterprise/{plan[0][1][0]}")
        ps = psutil.Process(proc.pid)
        time.sleep(3)  # the guard's first background round, then the resting size
        warm = tree_rss(ps)
        cpu0 = tree_cpu(ps)
        t0 = time.perf_counter()
        samples, server_peak = asyncio.run(load(base, plan, args.seconds, args.think, ps))
        wall = time.perf_counter() - t0
        server_cpu = (tree_cpu(ps) - cpu0) / wall
        time.sleep(10)  # idle: the service hands freed memory back
        after = tree_rss(ps)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:  # an overloaded server may not finish in time
            proc.kill()
    frame = pd.DataFrame(samples, columns=["kind", "seconds", "status", "start"])
    work = frame[frame["kind"] != "login"]
    logins = frame[frame["kind"] == "login"]
    # every user logs in at once at the start: 200 password checks (argon2, deliberately
    # costly) compete with the pages of those already in. "after_logins": the requests sent
    # once the last user was in, the steady state the targets are about; "overall": all.
    logged_in = float((logins["start"] + logins["seconds"]).max())
    steady = work[work["start"] >= logged_in]

    def stats(g: pd.DataFrame) -> dict[str, float]:
        return {
            "requests": len(g),
            "errors": int((g["status"] != 200).sum()),
            "p50_ms": round(1000 * float(g["seconds"].quantile(0.5)), 1),
            "p95_ms": round(1000 * float(g["seconds"].quantile(0.95)), 1),
            "max_ms": round(1000 * float(g["seconds"].max()), 1),
        }

    result = {
        "machine": machine(),
        "users": args.users,
        "seconds": args.seconds,
        "think_seconds": args.think,
        "month": args.month,
        "first_report_seconds": round(first_s, 2),
        "first_report_status": first,
        "overall": {**stats(work), "requests_per_second": round(len(work) / args.seconds, 1)},
        "after_logins": {
            **stats(steady),
            "seconds": round(t0 + wall - logged_in, 1),
            "requests_per_second": round(len(steady) / max(t0 + wall - logged_in, 1e-9), 1),
        },
        "by_endpoint": {k: stats(g) for k, g in work.groupby("kind")},
        "logins": {
            **stats(
                frame[frame["kind"] == "login"].assign(
                    status=lambda f: f["status"].replace(303, 200)
                )
            ),
            "note": "303 (redirect after login) counts as success",
        },
        "server_cpu_cores_used": round(server_cpu, 2),
        "server_rss_gib": {
            "after_warm_up": round(warm / 2**30, 3),
            "peak": round(server_peak / 2**30, 3),
            "10s_after_load": round(after / 2**30, 3),
        },
    }
    result["targets"] = {
        "p95_le_1s_overall": bool(result["overall"]["p95_ms"] <= 1000),
        "p95_le_1s_after_logins": bool(result["after_logins"]["p95_ms"] <= 1000),
        "no_errors": bool(result["overall"]["errors"] == 0),
        "memory_after_within_10pct": bool(after <= 1.10 * warm),
    }
    out = RESULTS / f"serve_{args.users}u_think{args.think:g}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
