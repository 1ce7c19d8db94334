"""Query cost of the flux-monitoring dashboards against the upstream Flux dashboards, at scale.

For each fleet size N this serves a synthetic fleet (tests/flux_fleet.py, modelled on the shared
Flux release matrix: N objects of Flux 2.1's kinds across 100 namespaces, 5% failing, 2%
suspended, the controllers' reconcile-duration buckets, 10 ms to 1800 s) on
127.0.0.1 and starts three real Prometheus servers scraping it:
- "legacy": the legacy generation's PodMonitor relabelings and rule groups;
- "resource-info": the resource-info generation's, plus kube-state-metrics' gotk_resource_info;
- "unrelabeled": the same targets without metric relabelings, only to count series.
The controllers export the legacy state series beside gotk_resource_info, as Flux 2.1 to 2.4 do.
It needs ../shared/upstream/flux/matrix.yaml beside the checkout.

Once rate windows hold data and the recording rules have evaluated, every dashboard panel query
(template variables at "All") and its upstream equivalent are evaluated in turn, repeatedly, via
/api/v1/query; times are client-side wall-clock times (HTTP on 127.0.0.1 included), and the ratio
of medians uses them; Prometheus' own execution time (query stats) gives a server-side ratio beside. It prints one
table and writes the results as JSON. Every process it starts is stopped when it ends.

Run: venv/bin/python -m bench.benchmark (or make bench).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import re
import shutil
import signal
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from datetime import datetime, timezone
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from components.settings import load_settings  # noqa: E402
from components.signals.dashboards import cluster_dashboard, control_plane_dashboard  # noqa: E402
from components.signals.podmonitor import flux_pod_monitors  # noqa: E402
from components.signals.rules import flux_rule_groups  # noqa: E402
from components.signals.sources import POD_MONITOR_NAME  # noqa: E402
from tests.flux_fleet import (  # noqa: E402
    MONITORING_NAMESPACE, Fleet, MatrixRelease, build_fleet, load_matrix, scrape_configs, serve_fleet,
    start_prometheus,
)

GENERATIONS = ("legacy", "resource-info")
# The newest release whose controllers export every kind's legacy gauges beside gotk_resource_info.
FLUX_VERSION = "2.1"
CONTROLLER_JOB = f"{MONITORING_NAMESPACE}/{POD_MONITOR_NAME}"
NAMESPACES = 100
RECONCILERS = 'kind=~"Kustomization|HelmRelease"'
ALL_NS = 'exported_namespace=~".*"'
# Upstream Flux dashboards' queries, keyed by the flux-monitoring panel they correspond to.
UPSTREAM_DURATIONS = {
    "flux-cluster/Average reconcile duration per kind":
        f"sum(rate(gotk_reconcile_duration_seconds_sum{{{ALL_NS}}}[5m])) by (kind)"
        f" / sum(rate(gotk_reconcile_duration_seconds_count{{{ALL_NS}}}[5m])) by (kind)",
    "flux-cluster/Slowest 10 objects, average reconcile duration":
        f"sum(rate(gotk_reconcile_duration_seconds_sum{{{ALL_NS}}}[5m])) by (kind, name)"
        f" / sum(rate(gotk_reconcile_duration_seconds_count{{{ALL_NS}}}[5m])) by (kind, name)",
}
UPSTREAM = {
    "legacy": {
        "flux-cluster/Reconcilers ready":
            f'count(gotk_reconcile_condition{{type="Ready",status="True",{RECONCILERS},{ALL_NS}}})',
        "flux-cluster/Reconcilers failing":
            f'sum(gotk_reconcile_condition{{type="Ready",status="False",{RECONCILERS},{ALL_NS}}})',
        "flux-cluster/Failing objects": f'gotk_reconcile_condition{{type="Ready",status="False",{ALL_NS}}}',
        **UPSTREAM_DURATIONS,
    },
    "resource-info": {
        "flux-cluster/Reconcilers ready":
            f'count(gotk_resource_info{{customresource_kind=~"Kustomization|HelmRelease",{ALL_NS}}})',
        "flux-cluster/Reconcilers failing": f'count(gotk_resource_info{{ready="False",{ALL_NS}}})',
        "flux-cluster/Suspended objects": f'gotk_resource_info{{suspended="true",{ALL_NS}}}',
        **UPSTREAM_DURATIONS,
    },
}
# Cluster-dashboard aggregate panels, the ones the 5x target applies to.
AGGREGATES = ("flux-cluster/Reconcilers ready", "flux-cluster/Reconcilers failing",
              "flux-cluster/Average reconcile duration per kind")


def settings_for(generation: str, release: MatrixRelease | None = None):
    controllers = release.default_controllers + release.extra_controllers if release else ()
    return load_settings({"fluxMetrics": generation, "fluxVersion": FLUX_VERSION,
                          **({"fluxComponents": json.dumps(list(controllers))} if controllers else {})},
                         kube_context="bench")


def panel_queries(generation: str, rate_interval: str) -> dict[str, str]:
    """'<dashboard uid>/<panel title>[/<refId>]' -> the query Grafana sends with variables at All."""
    queries = {}
    for build in (control_plane_dashboard, cluster_dashboard):
        model = build(settings_for(generation))
        for panel in model["panels"]:
            for target in panel["targets"]:
                expr = target["expr"].replace("$__rate_interval", rate_interval)
                for variable in model["templating"]["list"]:
                    if variable["type"] == "query":
                        expr = re.sub(rf"\$\{{?{variable['name']}\}}?\b", variable["allValue"], expr)
                key = f"{model['uid']}/{panel['title']}"
                queries[key if len(panel["targets"]) == 1 else f"{key}/{target['refId']}"] = expr
    return queries


def timed(session: requests.Session, url: str, expr: str) -> tuple[float, float, list]:
    """Client-side wall time, Prometheus' own execution time (query stats) and the result."""
    start = time.perf_counter()
    response = session.get(f"{url}/api/v1/query", params={"query": expr, "stats": "all"}, timeout=60)
    elapsed = time.perf_counter() - start
    body = response.json()
    if body.get("status") != "success":
        raise RuntimeError(f"{expr}: {body}")
    server = body["data"].get("stats", {}).get("timings", {}).get("execTotalTime", float("nan"))
    return elapsed, server, body["data"]["result"]


def has_data(result: list) -> bool:
    return bool(result) and not all(math.isnan(float(r["value"][1])) for r in result)


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)]


def measure(prometheus, generation: str, repeats: int, rate_interval: str) -> list[dict]:
    """Median and p95 times of every panel query and its upstream equivalent, interleaved."""
    rows = []
    session = requests.Session()
    upstream = UPSTREAM[generation]
    for panel, ours in panel_queries(generation, rate_interval).items():
        theirs = upstream.get(panel)
        timed(session, prometheus.url, ours)  # warm-up
        if theirs:
            timed(session, prometheus.url, theirs)
        ours_times, theirs_times, ours_server, theirs_server, data = [], [], [], [], True
        for _ in range(repeats):
            elapsed, server, result = timed(session, prometheus.url, ours)
            ours_times.append(elapsed)
            ours_server.append(server)
            data = data and has_data(result)
            if theirs:
                elapsed, server, _ = timed(session, prometheus.url, theirs)
                theirs_times.append(elapsed)
                theirs_server.append(server)
        row = {"generation": generation, "panel": panel, "query": ours, "has_data": data,
               "ours_median_ms": 1000 * statistics.median(ours_times), "ours_p95_ms": 1000 * p95(ours_times),
               "ours_server_median_ms": 1000 * statistics.median(ours_server)}
        if theirs:
            row.update({"upstream_query": theirs, "upstream_median_ms": 1000 * statistics.median(theirs_times),
                        "upstream_p95_ms": 1000 * p95(theirs_times),
                        "upstream_server_median_ms": 1000 * statistics.median(theirs_server)})
            row["ratio"] = row["upstream_median_ms"] / row["ours_median_ms"]
            row["server_ratio"] = row["upstream_server_median_ms"] / row["ours_server_median_ms"]
        rows.append(row)
    return rows


def series_counts(prometheus, size: int, controllers: int, relabeled: bool) -> dict:
    """Series ingested per Flux object and per controller, per generation, from one Prometheus."""
    def value(expr: str) -> float:
        result = prometheus.query(expr)
        return float(result[0]["value"][1]) if result else 0.0

    # Synthetic per-scrape series (up, scrape_*) are no controller's.
    real = '__name__!~"up|scrape_.+"'
    controller_objects = value(f'count({{job="{CONTROLLER_JOB}", exported_namespace!="", {real}}})')
    controller_own = value(f'count({{job="{CONTROLLER_JOB}", exported_namespace="", {real}}})')
    ksm = value('count(gotk_resource_info{job="kube-state-metrics"})')
    return {"relabeled": relabeled,
            "per_object": {"legacy": controller_objects / size, "resource-info": (controller_objects + ksm) / size},
            "per_controller": controller_own / controllers}


def run_size(binary: str, size: int, args, workdir: Path) -> dict:
    release = MatrixRelease.of(load_matrix(), FLUX_VERSION)
    objects = build_fleet(size, NAMESPACES, release, failing=0.05, suspended=0.02, unknown=0.01, seed=size)
    fleet = Fleet(release=release, objects=objects, controllers=release.default_controllers + release.extra_controllers)
    controllers = len(fleet.controllers)
    started = time.monotonic()
    with ExitStack() as stack:
        port = stack.enter_context(serve_fleet(fleet))
        servers = {}
        for generation in GENERATIONS:
            settings = settings_for(generation, release)
            scrape = scrape_configs(port, fleet, flux_pod_monitors(settings), kube_state_metrics=generation != "legacy")
            directory = workdir / f"{size}-{generation}"
            directory.mkdir()
            servers[generation] = stack.enter_context(start_prometheus(
                binary, directory, scrape, args.scrape_interval, flux_rule_groups(settings), startup=60))
        directory = workdir / f"{size}-unrelabeled"
        directory.mkdir()
        unrelabeled = scrape_configs(port, fleet, flux_pod_monitors(settings_for("resource-info", release)),
                                     kube_state_metrics=True, relabel=False)
        servers["unrelabeled"] = stack.enter_context(start_prometheus(
            binary, directory, unrelabeled, args.scrape_interval, startup=60))

        deadline = time.monotonic() + args.fill + 120
        scrapes = max(5, round(args.fill / float(args.scrape_interval.rstrip("s"))))
        for name, prometheus in servers.items():
            prometheus.wait_until_scraped(controllers + (0 if name == "legacy" else 1), scrapes, deadline)
        for generation in GENERATIONS:
            servers[generation].wait_for_rule_evaluation(deadline)
        print(f"  N={size}: data ready after {time.monotonic() - started:.0f}s", flush=True)

        rows = [row for generation in GENERATIONS
                for row in measure(servers[generation], generation, args.repeats, args.rate_interval)]
        rule_groups = {
            generation: {r["metric"]["rule_group"].split(";")[-1]: 1000 * float(r["value"][1])
                         for r in servers[generation].query("prometheus_rule_group_last_duration_seconds")}
            for generation in GENERATIONS}
        series = {"with": series_counts(servers["legacy"], size, controllers, True),
                  "with_resource_info": series_counts(servers["resource-info"], size, controllers, True),
                  "without": series_counts(servers["unrelabeled"], size, controllers, False)}
    return {"size": size, "namespaces": NAMESPACES, "rows": rows, "rule_group_eval_ms": rule_groups,
            "series": {
                "per_object": {g: {"without": series["without"]["per_object"][g],
                                   "with": series["with" if g == "legacy" else "with_resource_info"]["per_object"][g]}
                               for g in GENERATIONS},
                "per_controller": {"without": series["without"]["per_controller"],
                                   "with": series["with"]["per_controller"]}},
            "seconds": time.monotonic() - started}


def machine() -> dict:
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"arch": platform.machine(), "cpu": cpu, "cores": os.cpu_count(),
            "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}


def table(result: dict) -> str:
    lines = []
    for run in result["runs"]:
        n = run["size"]
        lines += [f"\nN = {n:,} Flux objects, {run['namespaces']} namespaces ({run['seconds']:.0f}s)", "",
                  "| generation | panel | ours median / p95 (ms) | upstream median / p95 (ms) | ratio "
                  "| server-side ratio | data |",
                  "|---|---|---|---|---|---|---|"]
        for row in run["rows"]:
            upstream = (f"{row['upstream_median_ms']:.1f} / {row['upstream_p95_ms']:.1f}"
                        if "ratio" in row else "-")
            ratio = f"{row['ratio']:.1f}x" if "ratio" in row else "-"
            server = f"{row['server_ratio']:.1f}x" if "ratio" in row else "-"
            lines.append(f"| {row['generation']} | {row['panel']} | {row['ours_median_ms']:.1f} / "
                         f"{row['ours_p95_ms']:.1f} | {upstream} | {ratio} | {server} "
                         f"| {'yes' if row['has_data'] else 'NO'} |")
        s = run["series"]
        lines += ["", "| series | without relabeling | with relabeling | change |", "|---|---|---|---|"]
        for generation in GENERATIONS:
            w, wo = s["per_object"][generation]["with"], s["per_object"][generation]["without"]
            lines.append(f"| per Flux object ({generation}) | {wo:.2f} | {w:.2f} | {100 * (w - wo) / wo:+.0f}% |")
        w, wo = s["per_controller"]["with"], s["per_controller"]["without"]
        lines.append(f"| per controller | {wo:.0f} | {w:.0f} | {100 * (w - wo) / wo:+.0f}% |")
        evals = ", ".join(f"{g} {group} {ms:.1f} ms" for g, groups in run["rule_group_eval_ms"].items()
                          for group, ms in sorted(groups.items()))
        lines += ["", f"Rule group evaluation (prometheus_rule_group_last_duration_seconds): {evals}"]
    return "\n".join(lines)


def check_targets(result: dict) -> list[str]:
    """The issue's targets at the largest size; what missed them."""
    run = max(result["runs"], key=lambda r: r["size"])
    misses = [f"{r['generation']} {r['panel']}: {r['ratio']:.1f}x < 5x" for r in run["rows"]
              if r["panel"] in AGGREGATES and r.get("ratio", 5) < 5]
    misses += [f"{r['generation']} {r['panel']}: no data" for r in run["rows"] if not r["has_data"]]
    for generation, counts in run["series"]["per_object"].items():
        if counts["with"] > 0.6 * counts["without"]:
            misses.append(f"series per Flux object ({generation}): "
                          f"{100 * (1 - counts['with'] / counts['without']):.0f}% fewer < 40%")
    return misses


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--scrape-interval", default="5s")
    parser.add_argument("--rate-interval", default="20s", help="$__rate_interval: 4 scrape intervals")
    parser.add_argument("--fill", type=float, default=60, help="seconds of scrapes before measuring")
    parser.add_argument("--out", type=Path, default=ROOT / "bench-results" / "results.json")
    args = parser.parse_args()
    # A terminated run unwinds like an interrupted one, so every Prometheus it started is stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    binary = shutil.which("prometheus")
    if not binary:
        print("prometheus is not installed (Debian package: prometheus)", file=sys.stderr)
        return 2
    version = os.popen(f"{binary} --version 2>&1").read().split("\n")[0]
    started = time.monotonic()
    result = {"machine": machine(), "prometheus": version, "scrape_interval": args.scrape_interval,
              "rate_interval": args.rate_interval, "fill_seconds": args.fill, "repeats": args.repeats,
              "timing": "client-side wall time of GET /api/v1/query on 127.0.0.1", "runs": []}
    with tempfile.TemporaryDirectory(prefix="flux-bench-") as tmp:
        for size in args.sizes:
            print(f"N={size}: starting", flush=True)
            result["runs"].append(run_size(binary, size, args, Path(tmp)))
    result["total_seconds"] = time.monotonic() - started
    result["target_misses"] = check_targets(result)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    m = result["machine"]
    print(f"\n{m['arch']}, {m['cpu']}, {m['cores']} cores, {m['date']}, {version}")
    print(table(result))
    print(f"\nTotal {result['total_seconds']:.0f}s; results in {args.out}")
    print("Targets met" if not result["target_misses"] else "Targets missed:\n  " + "\n  ".join(result["target_misses"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
