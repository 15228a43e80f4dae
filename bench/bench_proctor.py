"""Proctor reset: 1 attendee vs a room, on the local target with a cloud-like latency per call.

Issue #6 asks that resetting 40 attendees take at most twice as long as resetting one: the
work is waiting on the cloud, not computing. This provisions rooms through `secrets` (with no
latency, untimed), then times, side by side in one run:

- reset of 1 attendee,
- reset of N attendees (default parallelism),
- reset of N attendees one at a time (--parallel 1): the sequential baseline,

each with LABTUI_LOCAL_LATENCY seconds slept by every call to the local target's ports, and
prints the times and the ratios.

    /work/venv/bin/python bench/bench_proctor.py [--attendees 40] [--latency 0.05]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from labtui.catalog import Catalog
from labtui.masking import Masker
from labtui.proctor.fleet import Fleet, FleetOptions
from labtui.proctor.results import AttendeeOutcome, FleetSummary
from labtui.proctor.roster import load_roster

LAB_DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "AdultCensusIncome.csv"


def make_room(folder: Path, count: int) -> tuple[Path, Path, dict[str, str]]:
    """A roster of `count` attendees, shared answers, and the environment with their tokens."""
    folder.mkdir(parents=True)
    tokens = {f"A{i}_TOKEN": f"dapi{i:04x}0123456789abcdef0123456789ab" for i in range(count)}
    rows = ["attendee,prefix,workspace,databricks-token"]
    rows += [f"a{i},bench{i},ws/a{i},A{i}_TOKEN" for i in range(count)]
    roster = folder / "roster.csv"
    roster.write_text("\n".join(rows) + "\n")
    answers = folder / "answers.toml"
    data = f'data-file = "{LAB_DATA}"\n' if LAB_DATA.exists() else ""
    answers.write_text('tenant-id = "72f988bf-86f1-41af-91ab-2d7cd011db47"\n'
                       'subscription-id = "0b1f6471-1bf0-4dda-aec3-cb9272f09590"\n' + data)
    return roster, answers, {**os.environ, **tokens}


def fleet(catalog: Catalog, room: tuple[Path, Path, dict[str, str]], parallel: int) -> Fleet:
    roster_path, answers, environ = room
    roster = load_roster(roster_path, catalog.fields(), environ)
    return Fleet(roster, FleetOptions(values_file=answers, environ=environ, parallel=parallel),
                 catalog=catalog, masker=Masker())


def check(summary: FleetSummary, outcome: AttendeeOutcome) -> None:
    wrong = [r for r in summary.attendees if r.outcome is not outcome]
    if wrong:
        raise SystemExit(f"{summary.action} of {wrong[0].attendee.id}: {wrong[0].outcome}: "
                         f"{wrong[0].message}")


def timed_reset(catalog: Catalog, room: tuple[Path, Path, dict[str, str]], parallel: int,
                latency: float, through: str) -> float:
    """Provision the room (no latency, untimed), then time its reset with `latency`."""
    os.environ["LABTUI_LOCAL_LATENCY"] = "0"
    check(fleet(catalog, room, parallel).provision(through), AttendeeOutcome.DONE)
    os.environ["LABTUI_LOCAL_LATENCY"] = str(latency)
    started = time.perf_counter()
    summary = fleet(catalog, room, parallel).reset()
    elapsed = time.perf_counter() - started
    check(summary, AttendeeOutcome.DONE)
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--attendees", type=int, default=40)
    parser.add_argument("--latency", type=float, default=0.05, help="seconds per port call")
    parser.add_argument("--parallel", type=int, default=None,
                        help="workers for the room (default: the proctor's default)")
    parser.add_argument("--through", default="secrets", help="provision up to this step")
    parser.add_argument("--no-sequential", action="store_true",
                        help="skip the (slow) one-at-a-time baseline")
    args = parser.parse_args()
    through = args.through
    catalog = Catalog.discover()
    if through not in catalog:
        print(f"step {through!r} is not installed (pip install -e . registers the lab's steps)",
              file=sys.stderr)
        return 2
    parallel = args.parallel or FleetOptions().parallel
    with tempfile.TemporaryDirectory(prefix="labtui-bench-") as tmp:
        root = Path(tmp)
        os.environ["DATABRICKS_CONFIG_FILE"] = str(root / "databrickscfg")
        one = timed_reset(catalog, make_room(root / "one", 1), parallel, args.latency, through)
        room = timed_reset(catalog, make_room(root / "room", args.attendees), parallel,
                           args.latency, through)
        sequential = (None if args.no_sequential else
                      timed_reset(catalog, make_room(root / "seq", args.attendees), 1,
                                  args.latency, through))
    units = len(catalog.units())
    print(f"proctor reset through {through!r} ({units} units each), local target, "
          f"{args.latency * 1000:.0f} ms per port call, {os.cpu_count()} CPUs")
    print(f"  1 attendee                         {one:7.2f} s")
    print(f"  {args.attendees} attendees, parallel {parallel:<3}        {room:7.2f} s")
    if sequential is not None:
        print(f"  {args.attendees} attendees, parallel 1 (baseline) {sequential:7.2f} s")
    print(f"  ratio room / one attendee          {room / one:7.2f}x  (issue #6: at most 2x)")
    if sequential is not None:
        print(f"  speed-up over the sequential run   {sequential / room:7.2f}x")
    return 0 if room / one <= 2 else 1


if __name__ == "__main__":
    sys.exit(main())
