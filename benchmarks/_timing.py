"""Shared by the speed benchmarks: settings timed in turn within one process, medians printed."""
from __future__ import annotations

import statistics
from typing import Callable


def alternate(settings: dict[str, Callable[[], float]], repeats: int) -> dict[str, list[float]]:
    """Call every setting's rate function once per round, ``repeats`` rounds, so drifts hit all alike."""
    rates: dict[str, list[float]] = {name: [] for name in settings}
    for _ in range(repeats):
        for name, rate in settings.items():
            rates[name].append(rate())
    return rates


def report(rates: dict[str, list[float]], digits: int = 1) -> list[float]:
    """Print one line per setting (median and every run, images/s); returns the medians in order."""
    width = max(map(len, rates))
    for name, runs in rates.items():
        print(f"  {name:{width}s}  median {statistics.median(runs):8.{digits}f} img/s  "
              f"(runs: {', '.join(f'{r:.{digits}f}' for r in runs)})")
    return [statistics.median(runs) for runs in rates.values()]
