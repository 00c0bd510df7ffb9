"""Bar charts drawn on the server as SVG geometry (no charting script in the page): one bar per
day, scaled to the largest value, with its label and value for the tooltip."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

WIDTH = 560
HEIGHT = 120


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str
    value: float


@dataclass(frozen=True)
class Chart:
    title: str
    unit: str
    bars: list[Bar]
    total: float
    width: int = WIDTH
    height: int = HEIGHT


def bar_chart(title: str, unit: str, points: Sequence[tuple[str, float]]) -> Chart:
    """``points`` (label, value) left to right."""
    top = max((v for _, v in points), default=0) or 1
    step = WIDTH / max(1, len(points))
    bars = [
        Bar(
            x=i * step + 1,
            y=HEIGHT - HEIGHT * value / top,
            width=max(1.0, step - 2),
            height=HEIGHT * value / top,
            label=label,
            value=value,
        )
        for i, (label, value) in enumerate(points)
    ]
    return Chart(title, unit, bars, sum(v for _, v in points))
