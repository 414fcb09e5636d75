"""SHA-256 of every reproducible file `make demo` writes, and a comparison with a saved list.

Reproducible means: what the demo computes from its config and seed (features, classes,
metrics, reports, warnings, plans, the simulated loop). Records that stamp the real time or
a person (the audit, promotion and seal chains, the service's accounts) are left out.

    python benchmarks/demo_hashes.py > after.txt
    python benchmarks/demo_hashes.py --compare benchmarks/results/demo_hashes_before_issue16.txt
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = ("data/processed", "outputs")
SUFFIXES = {".parquet", ".json", ".csv", ".html", ".xlsx"}
LEFT_OUT = ("outputs/service/",)


def hashes(root: Path = ROOT) -> dict[str, str]:
    found: dict[str, str] = {}
    for folder in FOLDERS:
        for path in sorted((root / folder).rglob("*")):
            rel = path.relative_to(root).as_posix()
            if path.is_file() and path.suffix in SUFFIXES and not rel.startswith(LEFT_OUT):
                found[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return dict(sorted(found.items()))


def read(path: Path) -> dict[str, str]:
    pairs = (line.split(maxsplit=1) for line in path.read_text(encoding="utf-8").splitlines())
    return {name.strip(): digest for digest, name in pairs}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--compare", type=Path, help="a saved list (sha256sum format)")
    args = parser.parse_args()
    now = hashes()
    if args.compare is None:
        sys.stdout.writelines(f"{digest}  {name}\n" for name, digest in now.items())
        return 0
    before = read(args.compare)
    changed = sorted(n for n in before.keys() & now.keys() if before[n] != now[n])
    gone, new = sorted(before.keys() - now.keys()), sorted(now.keys() - before.keys())
    same = len(before.keys() & now.keys()) - len(changed)
    print(
        f"{same} of {len(before)} files identical; {len(changed)} changed, "
        f"{len(gone)} missing, {len(new)} new"
    )
    for title, names in (("changed", changed), ("missing", gone), ("new", new)):
        for name in names:
            print(f"  {title}: {name}")
    return 0 if not (changed or gone or new) else 1


if __name__ == "__main__":
    sys.exit(main())
