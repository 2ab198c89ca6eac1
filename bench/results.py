"""The benchmarks' figures as one report: bench/RESULTS.md.

Each benchmark prints its own detail and, for its headline figures, calls `record()`:
the figure, the baseline measured in the same run on the same machine, the ratio and the
target. `python -m bench` (`make bench`) runs every benchmark in a process of its own,
collects what they recorded (a JSON-lines file named by BENCH_RESULTS_FILE) and writes
RESULTS.md: the date, the machine (cores, memory, CPU, PostgreSQL and Redis versions) and
one table of every figure beside its baseline. Run alone (`python -m bench.dispatch`), a
benchmark records nothing and just prints.

A figure's `better` says which way is good ("higher" for rates, "lower" for times), so
the ratio reads the same way for every row: figure / baseline.
"""
from __future__ import annotations

import json
import os
import platform
import re
import subprocess
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

RESULTS_FILE_ENV = "BENCH_RESULTS_FILE"


@dataclass
class Figure:
    bench: str
    case: str
    value: float
    unit: str
    baseline: float | None = None
    baseline_label: str = ""
    target: str = ""
    met: bool | None = None
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.baseline in (None, 0):
            return None
        return self.value / self.baseline


def record(bench: str, case: str, value: float, unit: str, *, baseline: float | None = None,
           baseline_label: str = "", target: str = "", met: bool | None = None,
           note: str = "") -> None:
    """Keep one headline figure for RESULTS.md (nothing happens outside `make bench`)."""
    path = os.environ.get(RESULTS_FILE_ENV)
    if not path:
        return
    figure = Figure(bench, case, float(value), unit,
                    None if baseline is None else float(baseline), baseline_label, target,
                    met, note)
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(asdict(figure), ensure_ascii=False) + "\n")


def load(path: Path) -> list[Figure]:
    if not path.exists():
        return []
    return [Figure(**json.loads(line)) for line in path.read_text("utf-8").splitlines()
            if line.strip()]


def _command_version(*cmd: str) -> str:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return "not found"
    return out.strip().splitlines()[0] if out.strip() else "not found"


def machine() -> dict[str, str]:
    """What the figures were measured on."""
    cpu = "unknown"
    memory = "unknown"
    try:
        info = Path("/proc/cpuinfo").read_text()
        found = re.search(r"model name\s*:\s*(.+)", info)
        cpu = found.group(1).strip() if found else cpu
        mem = re.search(r"MemTotal:\s*(\d+) kB", Path("/proc/meminfo").read_text())
        memory = f"{int(mem.group(1)) / 1024 / 1024:.1f} GiB" if mem else memory
    except OSError:
        pass
    pg = _command_version("psql", "-h", "127.0.0.1", "-U", "postgres", "-Atc",
                          "SHOW server_version")
    redis_version = _command_version("redis-cli", "-h", "127.0.0.1", "INFO", "server")
    for line in subprocess.run(["redis-cli", "-h", "127.0.0.1", "INFO", "server"],
                               capture_output=True, text=True).stdout.splitlines():
        if line.startswith("redis_version:"):
            redis_version = line.split(":", 1)[1].strip()
    return {"cores": str(os.cpu_count()), "memory": memory, "cpu": cpu,
            "python": platform.python_version(), "postgresql": pg, "redis": redis_version,
            "os": platform.platform()}


def _fmt(value: float | None) -> str:
    if value is None:
        return ""
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def table(figures: list[Figure]) -> str:
    lines = ["| benchmark | case | figure | baseline (same run) | ratio | target | met |",
             "|---|---|---|---|---|---|---|"]
    for f in figures:
        baseline = (f"{_fmt(f.baseline)} {f.unit}" + (f" ({f.baseline_label})"
                                                      if f.baseline_label else "")
                    if f.baseline is not None else "")
        met = "" if f.met is None else ("yes" if f.met else "**no**")
        ratio = f"{f.ratio:.2f}" if f.ratio is not None else ""
        case = f.case + (f" ({f.note})" if f.note else "")
        lines.append(f"| {f.bench} | {case} | {_fmt(f.value)} {f.unit} | {baseline} | "
                     f"{ratio} | {f.target} | {met} |")
    return "\n".join(lines)


def render(figures: list[Figure], started: datetime, seconds: float,
           failures: list[str], host: dict[str, str]) -> str:
    missed = [f for f in figures if f.met is False]
    head = [
        "# Benchmark results",
        "",
        "Written by `make bench` (`python -m bench`): every benchmark, each in a process of "
        "its own, on PostgreSQL + Redis, each figure beside a baseline measured in the same "
        "run on the same machine. Ratio = figure / baseline. Do not edit by hand.",
        "",
        f"- date: {started.strftime('%Y-%m-%d %H:%M UTC')} (the run took {seconds / 60:.1f} "
        "min)",
        f"- machine: {host['cores']} cores, {host['memory']} memory, {host['cpu']}",
        f"- software: Python {host['python']}, PostgreSQL {host['postgresql']}, "
        f"Redis {host['redis']}, {host['os']}",
        f"- targets: {sum(1 for f in figures if f.met)} of "
        f"{sum(1 for f in figures if f.met is not None)} met"
        + (f"; missed: {', '.join(f'{f.bench}: {f.case}' for f in missed)}" if missed else ""),
    ]
    if failures:
        head.append("- benchmarks that exited non-zero (a crash, or their own missed-target "
                    f"status; their figures are above if they recorded any): "
                    f"{', '.join(failures)}")
    return "\n".join(head) + "\n\n" + table(figures) + "\n"


def now() -> datetime:
    return datetime.now(UTC)
