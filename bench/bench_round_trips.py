"""Round trips: how many port calls the engine's shape waits on, against the floor the lab allows.

On a real cloud every port call is a round trip of 50 to 300 ms, so what counts is how many of
them the work waits on one after the other. This provisions the Infrastructure section
(no latency, untimed), then measures, side by side in one run, at 0 and at --latency seconds
slept by every call to the local target's ports:

- (a) a forced `secrets` run (both environments), its verify included,
- (b) re-verifying the finished Infrastructure section,
- (c) one attendee's proctor reset (provisioned again first, untimed).

Each is timed --repeat times (the fastest kept), since other work on the machine only adds.

For each it prints the port calls made, the time at both latencies, the round trips waited on
in sequence ((time at latency - time at 0) ÷ latency), the floor — the fewest sequential round
trips the order of the work allows (the longest chain of units the action makes wait on each
other, times the round trips each unit cannot avoid: 1 for a verify or a rollback, 3 for a
forced run, which reads what is there, writes the difference and verifies; a verify makes no
unit wait for another, so its chain is one unit whatever the dependencies)
— and the ratio of the waited round trips to the floor (issue 11: at most 2x).

    .venv/bin/python bench/bench_round_trips.py [--latency 0.05]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from labtui.catalog import Catalog, Unit
from labtui.masking import Masker
from labtui.proctor.fleet import Fleet, FleetOptions
from labtui.proctor.results import AttendeeOutcome
from labtui.proctor.roster import load_roster
from labtui.session import Session, SessionOptions
from labtui.targets.local.sandbox import Sandbox

LAB_DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "AdultCensusIncome.csv"
ANSWERS = ('prefix = "bench11"\ntenant-id = "72f988bf-86f1-41af-91ab-2d7cd011db47"\n'
           'subscription-id = "0b1f6471-1bf0-4dda-aec3-cb9272f09590"\n'
           f'data-file = "{LAB_DATA}"\n')
TOKEN = "dapi00110123456789abcdef0123456789ab"


class CallCounter:
    """Counts every port call of the local target (each sleeps the latency once)."""

    def __init__(self) -> None:
        self.calls = 0
        self._lock = threading.Lock()
        self._pause = Sandbox.pause

    def install(self) -> None:
        counter, pause = self, self._pause

        def counted(sandbox: Sandbox) -> None:
            with counter._lock:
                counter.calls += 1
            pause(sandbox)

        Sandbox.pause = counted  # type: ignore[method-assign]

    def take(self) -> int:
        with self._lock:
            calls, self.calls = self.calls, 0
        return calls


@dataclass
class Measure:
    calls: int
    seconds: float


def depth(catalog: Catalog, units: Sequence[Unit]) -> int:
    """The longest chain of units among `units`, each counted once (1: none needs another)."""
    chosen = {(u.id, u.env) for u in units}
    memo: dict[tuple[str, str | None], int] = {}

    def longest(unit: Unit) -> int:
        key = (unit.id, unit.env)
        if key not in memo:
            below = [longest(r) for r in catalog.requirements(unit)
                     if (r.id, r.env) in chosen]
            memo[key] = 1 + max(below, default=0)
        return memo[key]

    return max((longest(u) for u in units), default=0)


def session(workspace: Path, answers: Path, catalog: Catalog, jobs: int | None = None
            ) -> Session:
    return Session(SessionOptions(workspace, values_file=answers, command="bench",
                                  parallel=jobs),
                   catalog=catalog)


def infrastructure(catalog: Catalog) -> list[Unit]:
    return [u for u in catalog.units() if u.step.section == "Infrastructure"]


def provision(workspace: Path, answers: Path, catalog: Catalog) -> None:
    os.environ["LABTUI_LOCAL_LATENCY"] = "0"
    with session(workspace, answers, catalog) as s:
        results = s.engine.run(infrastructure(catalog), with_requires=True)
    failed = [r for r in results if not r.ok]
    if failed:
        raise SystemExit(f"provision: {failed[0].unit.label}: {failed[0].message}")


def timed(counter: CallCounter, latency: float, work: Callable[[], None], repeat: int = 1,
          between: Callable[[], None] = lambda: None) -> Measure:
    """The fastest of `repeat` runs of `work` (`between` readies the next one, untimed): on
    a shared machine the other runs' load only ever adds time."""
    best: Measure | None = None
    for attempt in range(repeat):
        if attempt:
            between()
        os.environ["LABTUI_LOCAL_LATENCY"] = str(latency)
        counter.take()
        started = time.perf_counter()
        work()
        seconds = time.perf_counter() - started
        measure = Measure(counter.take(), seconds)
        if best is None or measure.seconds < best.seconds:
            best = measure
    assert best is not None
    return best


def engine_work(workspace: Path, answers: Path, catalog: Catalog, action: str,
                units: Sequence[Unit], jobs: int | None = None) -> Callable[[], None]:
    def work() -> None:
        with session(workspace, answers, catalog, jobs) as s:
            results = (s.engine.run(units, force=True) if action == "run"
                       else s.engine.verify(units))
        failed = [r for r in results if not r.ok]
        if failed or len(results) != len(units):
            raise SystemExit(f"{action}: {len(results)} of {len(units)} units, "
                             f"{failed[0].unit.label if failed else ''}: "
                             f"{failed[0].message if failed else ''}")
    return work


def reset_work(root: Path, answers: Path, catalog: Catalog) -> Callable[[], None]:
    roster_path = root / "roster.csv"
    roster_path.write_text("attendee,prefix,workspace,databricks-token\n"
                           f"a0,bench11,{root / 'ws'},A0_TOKEN\n")
    environ = {**os.environ, "A0_TOKEN": TOKEN}

    def work() -> None:
        roster = load_roster(roster_path, catalog.fields(), environ)
        fleet = Fleet(roster, FleetOptions(values_file=answers, environ=environ, parallel=1),
                      catalog=catalog, masker=Masker())
        summary = fleet.reset()
        wrong = [r for r in summary.attendees if r.outcome is not AttendeeOutcome.DONE]
        if wrong:
            raise SystemExit(f"reset: {wrong[0].outcome}: {wrong[0].message}")
    return work


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.05, help="seconds per port call")
    parser.add_argument("--repeat", type=int, default=3, metavar="N",
                        help="time each scenario N times and keep the fastest (default 3)")
    parser.add_argument("--jobs", type=int, default=None, metavar="N",
                        help="units the engine works on at once in (a) and (b), as labtui's "
                             "--jobs (default: the engine's)")
    args = parser.parse_args()
    catalog = Catalog.discover()
    if "secrets" not in catalog:
        print("step 'secrets' is not installed (pip install -e . registers the lab's steps)",
              file=sys.stderr)
        return 2
    counter = CallCounter()
    counter.install()
    rows: list[tuple[str, Measure, Measure, int]] = []
    with tempfile.TemporaryDirectory(prefix="labtui-bench-rt-") as tmp:
        root = Path(tmp)
        os.environ["DATABRICKS_CONFIG_FILE"] = str(root / "databrickscfg")
        os.environ["LABTUI_DATABRICKS_TOKEN"] = TOKEN
        answers = root / "answers.toml"
        answers.write_text(ANSWERS)
        workspace = root / "ws"
        provision(workspace, answers, catalog)

        n = max(1, args.repeat)
        secrets = catalog.units(["secrets"])
        work = engine_work(workspace, answers, catalog, "run", secrets, args.jobs)
        rows.append(("(a) forced secrets run + verify", timed(counter, 0, work, n),
                     timed(counter, args.latency, work, n), 3 * depth(catalog, secrets)))

        section = infrastructure(catalog)
        work = engine_work(workspace, answers, catalog, "verify", section, args.jobs)
        # Verify only reads: the engine verifies every unit at once (`Engine.verify`).
        rows.append(("(b) verify Infrastructure", timed(counter, 0, work, n),
                     timed(counter, args.latency, work, n), 1))

        work = reset_work(root, answers, catalog)
        again = partial(provision, workspace, answers, catalog)
        zero = timed(counter, 0, work, n, again)
        again()
        slow = timed(counter, args.latency, work, n, again)
        rows.append(("(c) proctor reset, 1 attendee", zero, slow, depth(catalog, section)))

    print(f"port round trips on the local target, {args.latency * 1000:.0f} ms per call, "
          f"{os.cpu_count()} CPUs")
    print(f"  {'scenario':34} {'calls':>5} {'at 0':>7} {'at lat':>7} {'waited':>6} "
          f"{'floor':>5} {'ratio':>6}")
    worst = 0.0
    for name, zero, slow, floor in rows:
        waited = max(0.0, slow.seconds - zero.seconds) / args.latency if args.latency else 0.0
        ratio = waited / floor if floor else 0.0
        worst = max(worst, ratio)
        print(f"  {name:34} {slow.calls:5d} {zero.seconds:6.2f}s {slow.seconds:6.2f}s "
              f"{waited:6.1f} {floor:5d} {ratio:5.2f}x")
    print("  waited = (time at latency - time at 0) / latency: the round trips waited on in "
          "sequence; goal: ratio at most 2x")
    return 0 if worst <= 2 else 1


if __name__ == "__main__":
    sys.exit(main())
