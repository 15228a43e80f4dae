"""Start-up cost of the commands people type most, side by side with a bare interpreter.

`labtui --help` and `labtui list` must stay fast: the cloud SDKs, Docker, MLflow, Spark and
Textual are imported only by the code that needs them.

    python bench/bench_startup.py [--runs 10]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time


def timed(command: list[str], runs: int) -> float:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, capture_output=True, check=True)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    workspace = tempfile.mkdtemp(prefix="labtui-bench-startup-")
    python = [sys.executable]
    rows = {
        "python -c pass": timed([*python, "-c", "pass"], args.runs),
        "labtui --help": timed([*python, "-m", "labtui", "--help"], args.runs),
        "labtui list": timed([*python, "-m", "labtui", "list", "--workspace", workspace],
                             args.runs),
    }
    base = rows["python -c pass"]
    for name, seconds in rows.items():
        print(f"{name:16} {seconds * 1000:7.0f} ms   {seconds / base:5.1f}x the bare interpreter")


if __name__ == "__main__":
    main()
