"""Flux monitoring signals: scrape config, alert rules, dashboards and kube-state-metrics config.

Every builder is a pure, deterministic function of ``Settings`` returning plain dicts, so the
Pulumi components can wrap them and the tests can feed them to the real Prometheus tools.
"""
