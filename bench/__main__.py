"""`python -m bench` (`make bench`): every benchmark, each in a process of its own, then
bench/RESULTS.md (bench/results.py) with every headline figure beside its in-run baseline.

`python -m bench NAME ...` runs only those (RESULTS.md is then not written: it always
holds a full run). Exit status: non-zero when a benchmark failed to run or missed a
target.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import results

# In the order they run; each is `python -m bench.NAME`.
BENCHES = ("cancel_endpoint", "dispatch", "crash_window", "batch_cancel", "auto_cancel",
           "callbacks", "list_and_reports", "export_xlsx", "imports_commit")
ROOT = Path(__file__).resolve().parent.parent
TIMEOUT_SECONDS = int(os.environ.get("BENCH_TIMEOUT_SECONDS", "1800"))


def main(argv: list[str]) -> int:
    chosen = tuple(argv) or BENCHES
    unknown = [name for name in chosen if name not in BENCHES]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(BENCHES)}",
              file=sys.stderr)
        return 2
    started, t0 = results.now(), time.monotonic()
    failures: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "figures.jsonl"
        env = dict(os.environ, **{results.RESULTS_FILE_ENV: str(path)})
        for name in chosen:
            print(f"\n=== bench.{name} ===", flush=True)
            try:
                code = subprocess.run([sys.executable, "-m", f"bench.{name}"], cwd=ROOT,
                                      env=env, timeout=TIMEOUT_SECONDS).returncode
            except subprocess.TimeoutExpired:
                code = "timeout"
            if code != 0:
                failures.append(f"{name} ({code})")
        figures = results.load(path)
    report = results.render(figures, started, time.monotonic() - t0, failures,
                            results.machine())
    print("\n" + report)
    if not argv:
        (ROOT / "bench" / "RESULTS.md").write_text(report, "utf-8")
        print("written: bench/RESULTS.md")
    return 1 if failures or any(f.met is False for f in figures) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
