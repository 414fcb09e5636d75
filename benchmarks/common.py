"""What the benchmark scripts share: run a command while sampling the memory of its whole
process tree, sizes on disk, the machine, and a clearly labelled linear extrapolation."""

from __future__ import annotations

import contextlib
import os
import platform
import subprocess
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]


def tree_rss(proc: psutil.Process) -> int:
    total = 0
    for p in [proc, *proc.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):  # a worker may exit between listing and reading
            total += p.memory_info().rss
    return total


def tree_memory(proc: psutil.Process) -> tuple[int, int]:
    """(RSS, PSS) summed over the tree. The RSS sum counts a page that forked workers share
    once per process; the PSS sum (each shared page divided among its sharers) is what the
    tree really holds, and what decides whether it fits in a machine."""
    rss = pss = 0
    for p in [proc, *proc.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):  # a worker may exit between listing and reading
            info = p.memory_full_info()
            rss += info.rss
            pss += getattr(info, "pss", info.rss)
    return rss, pss


def run_sampled(cmd: list[str]) -> tuple[float, int]:
    """Run ``cmd`` from the project root; wall seconds and peak resident bytes of its tree."""
    wall, rss, _pss = run_measured(cmd, pss=False)
    return wall, rss


def run_measured(
    cmd: list[str], pss: bool = True, cwd: Path | None = None
) -> tuple[float, int, int]:
    """Run ``cmd`` from ``cwd`` (the project root by default); wall seconds, and the peaks of
    its tree's summed RSS and (with ``pss``) summed PSS (`tree_memory`; else the RSS again).

    The RSS (``statm``: cheap) is sampled every 0.2 s. The PSS needs a walk of every page
    table of the tree (``smaps``: about 35 ms for a 4 GiB process, more for larger ones), so
    it is sampled at most once a second and never more often than 20 times its own cost:
    sampled every 0.2 s it took a quarter of a core from the run it measured (on 2 cores,
    about an eighth of the machine). A peak shorter than the PSS interval can be missed; the
    RSS peak beside it is the bound that misses nothing."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd or ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    ps = psutil.Process(proc.pid)
    peak_rss = peak_pss = 0
    next_pss = 0.0
    while proc.poll() is None:
        peak_rss = max(peak_rss, tree_rss(ps))
        now = time.perf_counter()
        if pss and now >= next_pss:
            _rss, proportional = tree_memory(ps)
            cost = time.perf_counter() - now
            peak_pss = max(peak_pss, proportional)
            next_pss = time.perf_counter() + max(1.0, 20 * cost)
        time.sleep(0.2)
    wall = time.perf_counter() - start
    err = proc.stderr.read().decode() if proc.stderr else ""
    if proc.returncode:
        raise SystemExit(f"{' '.join(cmd[:5])} ... failed:\n{err[-3000:]}")
    return wall, peak_rss, (peak_pss if pss else peak_rss)


def folder_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def machine() -> dict[str, object]:
    return {
        "cpus": os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "machine": platform.machine(),
    }


def extrapolate(base: dict[str, object], n: int, linear: tuple[str, ...]) -> dict[str, object]:
    """A record for ``n`` enterprises from a measured one: the ``linear`` fields scale with
    N (chunks are independent); memory does not (it is bounded per chunk or batch)."""
    scale = n / int(str(base["enterprises"]))
    out: dict[str, object] = {
        "enterprises": n,
        "measured": False,
        "extrapolated_from": base["enterprises"],
        "peak_rss_gib": base["peak_rss_gib"],
    }
    for key in linear:
        value = float(str(base[key])) * scale
        out[key] = round(value, 1) if key == "wall_seconds" else int(value)
    return out
