"""What `labtui proctor status` pays per attendee in train-model's verify: reading the registry.

train-model's verify lists the registered versions of worst_regression with the environment's
tags and downloads the newest one's files. This registers a model in a fresh sandbox (untimed),
then times, each in a fresh process as a proctor's status pass meets it:

- the verify's reads (list_models + download_model) through the local Models port,
- `import labtui.targets.local.models` alone (the floor: what any use of the port costs),

and prints both and their ratio.

    .venv/bin/python bench/bench_models.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SETUP = """
import sys
from pathlib import Path
from labtui.targets.local import LocalTarget
from labtui.targets.resources import ML_WORKSPACES
target = LocalTarget(Path(sys.argv[1]))
target.resource_groups.create("bench-db-dev", "eastus")
target.models.create_workspace(target.ref("bench-db-dev", ML_WORKSPACES, "bench-ml-dev"), "eastus")
files = Path(sys.argv[1]) / "files"
files.mkdir()
for name in ("x_scaler.pkl", "y_scaler.pkl", "model.pkl"):
    (files / name).write_bytes(b"0" * 4096)
target.models.register_model("bench-ml-dev", "worst_regression", files,
                             {"state": "dev", "created_by": "bench"})
target.close()
"""

VERIFY = """
import sys, tempfile, time
from pathlib import Path
started = time.perf_counter()
from labtui.targets.local import LocalTarget
target = LocalTarget(Path(sys.argv[1]))
versions = target.models.list_models("bench-ml-dev", "worst_regression",
                                     {"state": "dev", "created_by": "bench"})
with tempfile.TemporaryDirectory() as scratch:
    folder = target.models.download_model("bench-ml-dev", "worst_regression", Path(scratch),
                                          version=versions[-1].version)
    assert sorted(p.name for p in folder.iterdir()) == ["model.pkl", "x_scaler.pkl",
                                                        "y_scaler.pkl"]
target.close()
print(time.perf_counter() - started)
"""

FLOOR = """
import time
started = time.perf_counter()
import labtui.targets.local.models
from labtui.targets.local import LocalTarget
print(time.perf_counter() - started)
"""


def timed(code: str, *args: str) -> float:
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          check=True)
    return float(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        workspace = Path(folder) / "ws"
        subprocess.run([sys.executable, "-c", SETUP, str(workspace)], check=True)
        started = time.perf_counter()
        verify = [timed(VERIFY, str(workspace)) for _ in range(args.repeat)]
        floor = [timed(FLOOR) for _ in range(args.repeat)]
        print(f"verify reads (list + download), fresh process: "
              f"{statistics.median(verify):.3f} s (median of {args.repeat})")
        print(f"importing the port alone:                      "
              f"{statistics.median(floor):.3f} s")
        print(f"ratio: {statistics.median(verify) / statistics.median(floor):.1f}x "
              f"(measured in {time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
