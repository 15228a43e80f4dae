"""How fast the app answers, measured the way an attendee feels it: in a real terminal (a pty).

1. First paint: from starting `python -m labtui` to the first frame on the terminal (the banner's
   "target" text), with the terminal answering the theme query as terminals do, and with
   LABTUI_THEME set (no query at all). Target: under 1 s.
2. Keypress latency: from sending "?" to the help screen's text arriving on the terminal, first
   with the app idle, then while a step streams 10,000 log lines a second. Target: 100 ms.

Prints the numbers and their ratios to the targets; asserts nothing.

    /work/venv/bin/python bench/bench_app.py [--rate 10000] [--presses 15]
"""

from __future__ import annotations

import argparse
import fcntl
import os
import pty
import re
import select
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
from pathlib import Path

FIRST_PAINT_TARGET = 1.0
KEYPRESS_TARGET = 0.100
DA1_QUERY = b"\x1b[c"
DA1_REPLY = b"\x1b[?62;22c"
OSC11_QUERY = b"\x1b]11;?"
OSC11_REPLY = b"\x1b]11;rgb:1e1e/1e1e/1e1e\x1b\\"

STEP_SOURCE = '''
import os, time
from labtui.step import Check, Step, StepContext, Verdict


class BenchStream(Step):
    """Streams log lines at BENCH_RATE lines a second for BENCH_SECONDS."""

    id = "bench-stream"
    title = "Stream log lines (benchmark)"
    section = "Bench"

    def run(self, ctx: StepContext) -> None:
        rate = int(os.environ.get("BENCH_RATE", "10000"))
        seconds = float(os.environ.get("BENCH_SECONDS", "10"))
        start, written = time.monotonic(), 0
        while (elapsed := time.monotonic() - start) < seconds:
            ctx.check_cancelled()
            while written < int(elapsed * rate):
                ctx.log(f"line {written:07d} of the bench step's output, streaming")
                written += 1
            time.sleep(0.002)
        ctx.log(f"bench wrote {written} lines in {time.monotonic() - start:.2f} s")

    def verify(self, ctx: StepContext) -> Verdict:
        return Verdict.of(Check("streamed", False, "streams on every run"))
'''


def make_plugin(folder: Path) -> None:
    """A step distribution on PYTHONPATH: the package and its entry point."""
    (folder / "labtui_bench_steps").mkdir(parents=True)
    (folder / "labtui_bench_steps" / "__init__.py").write_text(STEP_SOURCE)
    info = folder / "labtui_bench_steps-0.1.dist-info"
    info.mkdir()
    info.joinpath("METADATA").write_text(
        "Metadata-Version: 2.1\nName: labtui-bench-steps\nVersion: 0.1\n")
    info.joinpath("entry_points.txt").write_text(
        "[labtui.steps]\nbench-stream = labtui_bench_steps:BenchStream\n")


class Terminal:
    """A pty running the app; answers the queries a terminal answers; records output."""

    def __init__(self, argv: list[str], env: dict[str, str], size: tuple[int, int]) -> None:
        self.master, slave = pty.openpty()
        cols, rows = size
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        self.started = time.perf_counter()
        self.process = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env,
                                        close_fds=True, start_new_session=True)
        os.close(slave)
        self.buffer = b""

    def pump(self, timeout: float) -> bytes:
        ready, _, _ = select.select([self.master], [], [], timeout)
        if not ready:
            return b""
        try:
            chunk = os.read(self.master, 1 << 16)
        except OSError:
            return b""
        if OSC11_QUERY in chunk:
            os.write(self.master, OSC11_REPLY)
        if DA1_QUERY in chunk:
            os.write(self.master, DA1_REPLY)
        self.buffer = (self.buffer + chunk)[-(1 << 20):]
        return chunk

    def wait_for(self, pattern: bytes, timeout: float = 20.0) -> float:
        """Seconds until `pattern` arrives in new output; raises TimeoutError."""
        start = time.perf_counter()
        seen = b""
        while time.perf_counter() - start < timeout:
            seen = (seen + self.pump(0.05))[-(1 << 16):]
            if pattern in seen:
                return time.perf_counter() - start
        raise TimeoutError(f"{pattern!r} did not appear in {timeout} s")

    def drain(self, seconds: float) -> None:
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            self.pump(0.02)

    def send(self, keys: bytes) -> None:
        os.write(self.master, keys)

    def close(self) -> None:
        self.send(b"\x11")  # ctrl+q
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.process.kill()
        os.close(self.master)


def measure_first_paint(argv: list[str], env: dict[str, str], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        terminal = Terminal(argv, env, (120, 40))
        try:
            terminal.wait_for(b"target")
            times.append(time.perf_counter() - terminal.started)
        finally:
            terminal.close()
    return times


def press_latencies(terminal: Terminal, presses: int) -> list[float]:
    """Send ? and time the help screen's arrival; close it with Escape each time."""
    latencies = []
    for _ in range(presses):
        terminal.drain(0.15)
        terminal.send(b"?")
        latencies.append(terminal.wait_for(b"what they do", timeout=10))
        terminal.send(b"\x1b")
        terminal.drain(0.25)
    return latencies


def summary(name: str, values: list[float], target: float) -> str:
    median = statistics.median(values)
    worst = max(values)
    return (f"{name:<44} median {median * 1000:7.1f} ms  max {worst * 1000:7.1f} ms  "
            f"median/target {median / target:5.2f}  max/target {worst / target:5.2f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=int, default=10_000, help="log lines a second")
    parser.add_argument("--presses", type=int, default=15)
    parser.add_argument("--paint-runs", type=int, default=5)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        make_plugin(root / "plugin")
        env = {k: v for k, v in os.environ.items() if not k.startswith("LABTUI_")}
        env.update(PYTHONPATH=str(root / "plugin"), TERM="xterm-256color", HOME=str(root),
                   BENCH_RATE=str(args.rate), BENCH_SECONDS="60", COLUMNS="120", LINES="40")
        env.pop("COLORFGBG", None)
        argv = [sys.executable, "-m", "labtui", "--workspace", str(root / "ws"),
                "--step", "bench-stream"]

        paint = measure_first_paint(argv, env, args.paint_runs)
        paint_fixed = measure_first_paint(argv, {**env, "LABTUI_THEME": "textual-dark"},
                                          args.paint_runs)

        terminal = Terminal(argv, env, (120, 40))
        try:
            terminal.wait_for(b"target")
            terminal.drain(1.0)
            idle = press_latencies(terminal, args.presses)
            terminal.send(b"R")  # run again even if done: shows the plan first
            terminal.wait_for(b"Run (y)")
            terminal.send(b"y")
            terminal.wait_for(b"of the bench step's output")
            terminal.drain(1.0)
            streaming = press_latencies(terminal, args.presses)
            streamed = re.findall(rb"([\d,]+) lines", terminal.buffer)
        finally:
            terminal.close()

    print(f"first paint, {args.paint_runs} runs each (target {FIRST_PAINT_TARGET:.1f} s):")
    print("  " + summary("terminal answers the theme query", paint, FIRST_PAINT_TARGET))
    print("  " + summary("LABTUI_THEME set (no query)", paint_fixed, FIRST_PAINT_TARGET))
    print(f"keypress → help screen on the terminal, {args.presses} presses "
          f"(target {KEYPRESS_TARGET * 1000:.0f} ms):")
    print("  " + summary("idle", idle, KEYPRESS_TARGET))
    print("  " + summary(f"while streaming {args.rate:,} lines/s", streaming, KEYPRESS_TARGET))
    ratio = statistics.median(streaming) / statistics.median(idle)
    print(f"  streaming vs idle (median): {ratio:.2f}x")
    if streamed:
        most = max(int(count.replace(b",", b"")) for count in streamed)
        print(f"  the log pane's line counter showed up to {most:,} lines (the step really "
              "streamed while keys were pressed)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
