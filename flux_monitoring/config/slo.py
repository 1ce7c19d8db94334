"""Delivery SLOs per tenant (``slo``): the objective of each namespace's Kustomizations and HelmReleases
and the multi-window, multi-burn-rate alerts that defend it.

The SLI is the fraction of object-time in which a namespace's Kustomizations and HelmReleases are not
failing (Ready False; reconciling, Unknown, is not failing). The alerts follow the Google SRE workbook
("Alerting on SLOs", https://sre.google/workbook/alerting-on-slos/, table 5-8 and "Multiwindow,
Multi-Burn-Rate Alerts"): page when 2% of a 30-day budget burns in an hour (14.4x) over the last hour
and the last 5 minutes, ticket when 5% burns in six hours (6x) over the last 6 hours and 30 minutes. The
short window (1/12 of the long one) makes an alert resolve soon after the burn stops.
"""

from __future__ import annotations

from dataclasses import dataclass

from flux_monitoring.config.alerting import duration_seconds


@dataclass(frozen=True)
class BurnRate:
    """One alert of the pair: it fires when both windows burn ``budget_share`` of the SLO window's
    budget in ``long`` (a rate of ``budget_share`` x window / long)."""

    alert: str
    long: str
    short: str
    budget_share: float

    def factor(self, window: str) -> float:
        """The burn rate: how many times faster than the budget allows (14.4 for 2% in 1h of 30d)."""
        return self.budget_share * duration_seconds(window) / duration_seconds(self.long)


BURN_RATES = (
    BurnRate("FluxDeliveryBudgetFastBurn", long="1h", short="5m", budget_share=0.02),
    BurnRate("FluxDeliveryBudgetSlowBurn", long="6h", short="30m", budget_share=0.05),
)
# The windows the SLI is recorded over for the alerts, shortest first.
ALERT_WINDOWS = tuple(sorted({w for rate in BURN_RATES for w in (rate.long, rate.short)}, key=duration_seconds))
# At least a day: the slow burn's long window must be a small part of it.
MINIMUM_WINDOW = "1d"


def error_budget(objective: float) -> float:
    """The fraction of object-time that may fail: 0.005 for an objective of 99.5 (%)."""
    return round(1 - objective / 100, 12)


def lowest_objective(window: str) -> float:
    """Below this objective (%), the fastest burn rate's threshold exceeds 1: even every object
    failing could not page."""
    return 100 * (1 - 1 / max(rate.factor(window) for rate in BURN_RATES))
