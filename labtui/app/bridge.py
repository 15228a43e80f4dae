"""From the engine's threads to the UI: a thread-safe buffer of events the app drains on a timer.

The engine calls listeners on its own threads, up to tens of thousands of times a second for a
chatty step. The listener here only appends to a list under a lock; the app takes the whole list
every few tens of milliseconds and writes the log lines in one `Log.write_lines` call (one call
per line is about 100x slower and starts a worker each). Nothing here touches a widget.
"""

from __future__ import annotations

import threading

from labtui.events import Event, LogLine


class EventBuffer:
    """Collects engine events until the UI takes them. Bounded: when the UI falls far behind,
    the oldest log lines are dropped (and counted) but no other event is."""

    def __init__(self, limit: int = 200_000) -> None:
        self.limit = limit
        self._events: list[Event] = []
        self._dropped = 0
        self._lock = threading.Lock()

    def __call__(self, event: Event) -> None:
        with self._lock:
            self._events.append(event)
            if len(self._events) > self.limit:
                kept = [e for e in self._events[: self.limit // 2] if not isinstance(e, LogLine)]
                self._dropped += self.limit // 2 - len(kept)
                self._events = kept + self._events[self.limit // 2:]

    def drain(self) -> tuple[list[Event], int]:
        """Everything collected so far and how many log lines were dropped since last time."""
        with self._lock:
            events, self._events = self._events, []
            dropped, self._dropped = self._dropped, 0
        return events, dropped

    def __len__(self) -> int:
        with self._lock:
            return len(self._events)


def describe(event: Event) -> str | None:
    """The log line the app writes for an event that is not itself a log line."""
    from labtui.console import PLAN_SIGNS, SYMBOLS
    from labtui.events import CheckResult, Heartbeat, PlannedChange, StepFinished, StepStarted

    label = f"{event.step} ({event.env})" if event.env else event.step
    if isinstance(event, StepStarted):
        return f"▶ {event.action} {label}"
    if isinstance(event, StepFinished):
        symbol = SYMBOLS.get(event.outcome, "?")
        return (f"{symbol} {event.action} {label}: {event.message or event.outcome} "
                f"({event.duration:.1f} s)")
    if isinstance(event, CheckResult):
        if event.before_run and not event.ok:
            # The verify a run starts with: what fails there is the work still to do.
            return f"  ○ to do — {event.name}" + (f": {event.message}" if event.message else "")
        text = f"  {'✓' if event.ok else '✗'} {event.name}"
        text += f": {event.message}" if event.message else ""
        if not event.ok and event.hint:
            text += f" — what to do: {event.hint}"
        return text
    if isinstance(event, PlannedChange):
        detail = f" ({event.detail})" if event.detail else ""
        return (f"  {PLAN_SIGNS.get(event.action, '?')} {event.action} {event.resource_kind} "
                f"{event.ref}{detail}")
    if isinstance(event, Heartbeat):
        return f"… {label} still working ({event.quiet_seconds:.0f} s without output)"
    return None
