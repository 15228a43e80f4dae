"""The trained model at a glance: MAE, R² and predicted against actual values on the test split.

Points far from the diagonal are why the lab calls it the world's worst regression. plotext is
imported only when a step has metrics to show, so start-up does not pay for it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

MAX_POINTS = 2_000
"""Points plotted at most (evenly sampled): a terminal has far fewer cells than that."""


@dataclass(frozen=True)
class Metrics:
    """What train-model writes to metrics.json."""

    mae: float
    r2: float
    predicted: tuple[float, ...]
    actual: tuple[float, ...]


def load_metrics(path: Path) -> Metrics:
    """Read metrics.json.

    Raises:
        ValueError: the file is not the metrics train-model writes (the message says why).
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        predicted = tuple(float(v) for v in data.get("predicted", ()))
        actual = tuple(float(v) for v in data.get("actual", ()))
        metrics = Metrics(float(data["mae"]), float(data["r2"]), predicted, actual)
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"{path}: not a metrics file with mae, r2, predicted, actual "
                         f"({type(exc).__name__}: {exc})") from None
    if len(predicted) != len(actual):
        raise ValueError(f"{path}: {len(predicted)} predicted but {len(actual)} actual values")
    return metrics


def verdict(r2: float) -> str:
    """What R² means, in a sentence for the room."""
    if r2 < 0:
        return "worse than always guessing the average"
    if r2 < 0.3:
        return "barely better than guessing the average"
    if r2 < 0.7:
        return "a rough fit"
    return "a good fit"


class MetricsView(Vertical):
    """MAE and R² in words, and a scatter of predicted against actual."""

    def __init__(self, metrics: Metrics) -> None:
        super().__init__(classes="results-block metrics")
        self.metrics = metrics

    def compose(self) -> ComposeResult:
        from textual_plotext import PlotextPlot

        metrics = self.metrics
        text = Text("Model  ", style="bold")
        text.append(f"MAE {metrics.mae:,.3f}", style="bold")
        text.append("   ")
        text.append(f"R² {metrics.r2:.3f}", style="bold red" if metrics.r2 < 0.3 else "bold")
        text.append(f"  — {verdict(metrics.r2)}", style="dim")
        yield Static(text, classes="results-title")
        yield PlotextPlot(classes="scatter")

    def on_mount(self) -> None:
        from textual_plotext import PlotextPlot

        metrics = self.metrics
        plot = self.query_one(PlotextPlot)
        plt = plot.plt
        step = max(1, len(metrics.actual) // MAX_POINTS)
        actual, predicted = list(metrics.actual[::step]), list(metrics.predicted[::step])
        plt.title("predicted against actual (test split)")
        plt.xlabel("actual")
        plt.ylabel("predicted")
        if actual:
            low = min(min(actual), min(predicted))
            high = max(max(actual), max(predicted))
            plt.plot([low, high], [low, high], color="green", label="perfect")
            plt.scatter(actual, predicted, marker="dot", color="red", label="model")
