"""The cost arithmetic of the bench: Prometheus seconds per hour of the rule groups and of viewers
refreshing a dashboard, and how many viewers make the program pay for its rules."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from datetime import datetime

HOUR = 3600.0
# One viewer on Grafana's 30s auto-refresh.
REFRESHES_PER_HOUR = 120


@dataclass(frozen=True)
class GroupCost:
    """One rule group's evaluations: their durations (seconds) and the group's interval."""

    name: str
    interval_s: float
    durations_s: tuple[float, ...]
    missed: float = 0.0

    @property
    def median_s(self) -> float:
        return statistics.median(self.durations_s)

    @property
    def share(self) -> float:
        """The median evaluation's share of the interval."""
        return self.median_s / self.interval_s

    @property
    def per_hour_s(self) -> float:
        return self.median_s * HOUR / self.interval_s


def rules_per_hour(groups: list[GroupCost]) -> float:
    return sum(g.per_hour_s for g in groups)


def refreshes_per_hour(refresh_s: float, viewers: float = 1) -> float:
    return refresh_s * REFRESHES_PER_HOUR * viewers


def break_even_viewers(rules_s: float, ours_refresh_s: float, upstream_refresh_s: float) -> float:
    """Viewers at which the program's rules plus its refreshes cost what upstream's refreshes cost
    (rules + v·120·ours = v·120·upstream); infinite when a refresh of ours is no cheaper."""
    saved = refreshes_per_hour(upstream_refresh_s - ours_refresh_s)
    return rules_s / saved if saved > 0 else math.inf


def round_complete(evaluations: dict[str, list[str]]) -> bool:
    """Every group has evaluated at or after the latest first evaluation of any of them (``evaluations``:
    each group's evaluation timestamps, RFC 3339 as /api/v1/rules gives them): each rule that reads
    another group's series over a window has then run with them recorded."""
    times = {group: sorted(map(datetime.fromisoformat, stamps)) for group, stamps in evaluations.items()}
    if not all(times.values()):
        return False
    latest_first = max(stamps[0] for stamps in times.values())
    return all(stamps[-1] >= latest_first for stamps in times.values())
