"""Query cost of the flux-cluster dashboard against the upstream Flux dashboards, at scale.

For each fleet size N and each namespace shape (100 namespaces, and 2,000: one per tenant
application) this serves two synthetic fleets on 127.0.0.1 (tests/flux_fleet.py, modelled on the
shared Flux release matrix: 5% failing, 2% suspended, Flux's real reconcile-duration buckets, ten
from 10 ms to 1800 s): a Flux 2.4 one, the newest release with the controllers' legacy gauges,
and a Flux 2.9 one. Real Prometheus servers scrape them through the program's PodMonitors and
hold its rule groups, one per metric source:
- legacy (Flux 2.4): the controllers' gotk_reconcile_condition / gotk_suspend_status;
- resource-info (Flux 2.9): kube-state-metrics' gotk_resource_info;
- flux-operator (Flux 2.9): the Flux Operator's flux_resource_info.
In the first shape, two more servers scrape both fleets without metric relabelings, to count the
series per Flux object with and without them.

Once the rate windows hold data and every rule group has evaluated, every flux-cluster panel
query (namespace variable at All) and every query of the upstream dashboards that show the same
things are evaluated in turn, ``--repeats`` times each (interleaved). The cost is Prometheus' own
evaluation time (query stats, execTotalTime), median of the repeats; the whole-dashboard figure
is the sum of the panels' medians against the sum of the upstream dashboard's queries' medians.
Rule groups report their last evaluation time (prometheus_rule_group_last_duration_seconds)
against the interval they ship with, and their missed iterations.

It prints tables and one summary line checking the targets, writes the results as JSON, and stops
every process it starts. It needs ../shared/upstream/flux/matrix.yaml beside the checkout.

Run: venv/bin/python -m bench.benchmark (or make bench).
"""

from __future__ import annotations

import argparse
import functools
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
from datetime import UTC, datetime
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flux_monitoring.config.settings import load_settings  # noqa: E402
from flux_monitoring.signals.dashboards import cluster_dashboard  # noqa: E402
from flux_monitoring.signals.podmonitor import flux_pod_monitors  # noqa: E402
from flux_monitoring.signals.rules import flux_rule_groups  # noqa: E402
from flux_monitoring.signals.sources import POD_MONITOR_NAME  # noqa: E402
from tests.support.flux_fleet import (  # noqa: E402
    FLUX_NAMESPACE,
    MONITORING_NAMESPACE,
    Fleet,
    MatrixRelease,
    build_fleet,
    load_matrix,
    scrape_configs,
    serve_fleet,
    start_prometheus,
    targets,
)

# Metric source -> the Flux release its fleet runs: the legacy gauges exist up to Flux 2.4.
SOURCES = {"legacy": "2.4", "resource-info": "2.9", "flux-operator": "2.9"}
SHAPES = (100, 2000)
CONTROLLER_JOB = f"{MONITORING_NAMESPACE}/{POD_MONITOR_NAME}"
# The targets of the issue, checked at the largest N.
DASHBOARD_RATIO = 10
RULE_GROUP_SHARE = 0.10
RUN_SECONDS = 15 * 60
# Rule groups run at most this far apart in the bench, so each has evaluated soon after the fill;
# their cost is judged against the interval they ship with.
BENCH_RULE_INTERVAL = 60

# -- the upstream dashboards ---------------------------------------------------------------------
#
# Their queries, verbatim but for the variables: with a variable at All, Grafana sends the
# regex of every value when the variable has no allValue (these have none); ".*" is used instead,
# the cheapest form, so the upstream figures are lower bounds. The operator's dashboard selects
# its namespace ("$namespace", one value): the Flux namespace.
#
# flux2-monitoring-example (resource-info): fluxcd/flux2-monitoring-example
#   monitoring/configs/dashboards/cluster.json @ 14129216b7e43db91c49bf0cd6b588360e4aa953 (2025-03-18).
# legacy: the Flux guide's dashboard while the controllers exported the legacy gauges, fluxcd/flux2
#   manifests/monitoring/monitoring-config/dashboards/cluster.json @ 2716ca449e14e9be3eb8e52cae3bfe27f7a14081
#   (2023-08-09; removed in 36adfff9, 2023-12-13, when the example repository took over).
# flux-operator: controlplaneio-fluxcd/flux-operator config/monitoring/dashboards/flux-performance.json
#   @ 5219e46477088b433291843bad668becdebfca61 (2025-08-05): its one object-state panel; the operator's
#   dashboards have no duration or object tables, so the durations are the example's (the same
#   controller metrics), and the tables have no upstream equivalent.
UPSTREAM_NS = 'namespace=~".*",exported_namespace=~".*"'
RECONCILER_KINDS = 'kind=~"Kustomization|HelmRelease"'
FAILING = 'ready="False"'
SOURCE_KINDS = {
    "resource-info": 'kind=~"GitRepository|HelmRepository|Bucket|OCIRepository"',
    "legacy": 'kind=~"GitRepository|OCIRepository|HelmRepository|Bucket"',
}


def _durations(kinds: str, by: str) -> str:
    return (
        f"sum(rate(gotk_reconcile_duration_seconds_sum{{{UPSTREAM_NS},{kinds}}}[5m])) by ({by}) /   "
        f"sum(rate(gotk_reconcile_duration_seconds_count{{{UPSTREAM_NS},{kinds}}}[5m])) by ({by})"
    )


def _example_durations(sources: str) -> dict[str, str]:
    return {
        "Reconciler ops avg. duration": _durations(RECONCILER_KINDS, "kind"),
        "Source ops avg. duration": _durations(sources, "kind"),
        "Cluster reconciliation duration": _durations(RECONCILER_KINDS, "kind, name"),
        "Source acquisition duration": _durations(sources, "kind, name"),
    }


def _info(kinds: str, *matchers: str) -> str:
    return "gotk_resource_info{" + ", ".join(('exported_namespace=~".*"', f"customresource_{kinds}", *matchers)) + "}"


def _condition(kinds: str, status: str) -> str:
    return f'gotk_reconcile_condition{{{UPSTREAM_NS},type="Ready",status="{status}",{kinds}}}'


UPSTREAM = {
    "resource-info": {
        "Cluster Reconcilers": f"count({_info(RECONCILER_KINDS)})",
        "Failing Reconcilers": f"count({_info(RECONCILER_KINDS, FAILING)})",
        "Kubernetes Manifests Sources": f"count({_info(SOURCE_KINDS['resource-info'])})",
        "Failing Sources": f"count({_info(SOURCE_KINDS['resource-info'], FAILING)})",
        "Cluster reconciliation readiness": _info(RECONCILER_KINDS),
        "Source acquisition readiness": _info(SOURCE_KINDS["resource-info"]),
        "Suspended Objects": 'gotk_resource_info{exported_namespace=~".*", suspended="true"}',
        **_example_durations(SOURCE_KINDS["resource-info"]),
    },
    "legacy": {
        "Cluster Reconcilers": f"count({_condition(RECONCILER_KINDS, 'True')}) - "
        f"sum({_condition(RECONCILER_KINDS, 'Deleted')})",
        "Failing Reconcilers": f"sum({_condition(RECONCILER_KINDS, 'False')})",
        "Kubernetes Manifests Sources": f"count({_condition(SOURCE_KINDS['legacy'], 'True')}) - "
        f"sum({_condition(SOURCE_KINDS['legacy'], 'Deleted')})",
        "Failing Sources": f"sum({_condition(SOURCE_KINDS['legacy'], 'False')})",
        "Cluster reconciliation readiness": _condition(RECONCILER_KINDS, "False"),
        "Source acquisition readiness": _condition(SOURCE_KINDS["legacy"], "False"),
        **_example_durations(SOURCE_KINDS["legacy"]),
    },
    "flux-operator": {
        "Scheduled Reconciliations": f'count(flux_resource_info{{namespace="{FLUX_NAMESPACE}"}}) by (kind,ready)',
        **_example_durations(SOURCE_KINDS["resource-info"]),
    },
}
# flux-cluster panel -> the upstream panels showing the same, per source (none: no equivalent).
_COUNTS = {
    "Reconcilers ready": ("Cluster Reconcilers",),
    "Reconcilers failing": ("Failing Reconcilers",),
    "Reconcilers unknown": ("Cluster Reconcilers",),
    "Sources ready": ("Kubernetes Manifests Sources",),
    "Sources failing": ("Failing Sources",),
    "Sources unknown": ("Kubernetes Manifests Sources",),
}
_DURATIONS = {
    "Average reconcile duration per kind": ("Reconciler ops avg. duration", "Source ops avg. duration"),
    "p99 reconcile duration per kind": ("Reconciler ops avg. duration", "Source ops avg. duration"),
    "Slowest 10 objects, average reconcile duration": (
        "Cluster reconciliation duration",
        "Source acquisition duration",
    ),
    "Slowest 10 objects, p99 reconcile duration": ("Cluster reconciliation duration", "Source acquisition duration"),
}
_TABLES = {"Failing objects": ("Cluster reconciliation readiness", "Source acquisition readiness")}
EQUIVALENTS = {
    "resource-info": {
        **_COUNTS,
        **_TABLES,
        "Suspended": ("Suspended Objects",),
        "Suspended objects": ("Suspended Objects",),
        **_DURATIONS,
    },
    "legacy": {**_COUNTS, **_TABLES, **_DURATIONS},
    "flux-operator": {**dict.fromkeys((*_COUNTS, "Suspended"), ("Scheduled Reconciliations",)), **_DURATIONS},
}


@functools.cache
def release(minor: str) -> MatrixRelease:
    return MatrixRelease.of(load_matrix(), minor)


def installed(minor: str) -> tuple[str, ...]:
    """Every controller of the release, extras included: the fleet has objects of all their kinds."""
    return release(minor).default_controllers + release(minor).extra_controllers


def settings_for(source: str):
    minor = SOURCES[source]
    return load_settings(
        {"fluxMetrics": source, "fluxVersion": minor, "fluxComponents": json.dumps(list(installed(minor)))},
        kube_context="bench",
    )


def panel_queries(source: str) -> dict[str, str]:
    """flux-cluster panel title -> the query Grafana sends with the variables at All."""
    model = cluster_dashboard(settings_for(source))
    queries = {}
    for panel in model["panels"]:
        (target,) = panel["targets"]
        expr = target["expr"]
        for variable in model["templating"]["list"]:
            if variable["type"] == "query":
                expr = re.sub(rf"\$\{{?{variable['name']}\}}?\b", variable["allValue"], expr)
        queries[panel["title"]] = expr
    return queries


def bench_rule_groups(source: str) -> list[dict]:
    """The shipped rule groups, none further apart than BENCH_RULE_INTERVAL."""
    return [
        {**group, "interval": f"{min(seconds(group['interval']), BENCH_RULE_INTERVAL)}s"}
        for group in flux_rule_groups(settings_for(source))
    ]


def seconds(duration: str) -> int:
    return int(duration[:-1]) * {"s": 1, "m": 60, "h": 3600}[duration[-1]]


def timed(session: requests.Session, url: str, expr: str) -> tuple[float, float, list]:
    """Prometheus' own execution time (query stats), client-side wall time and the result."""
    start = time.perf_counter()
    response = session.get(f"{url}/api/v1/query", params={"query": expr, "stats": "all"}, timeout=120)
    elapsed = time.perf_counter() - start
    body = response.json()
    if body.get("status") != "success":
        raise RuntimeError(f"{expr}: {body}")
    return body["data"]["stats"]["timings"]["execTotalTime"], elapsed, body["data"]["result"]


def has_data(result: list) -> bool:
    return bool(result) and not all(math.isnan(float(r["value"][1])) for r in result)


def measure(prometheus, source: str, repeats: int) -> dict:
    """Median server and wall times of every panel query and every upstream query, interleaved."""
    session = requests.Session()
    queries = {("ours", title): expr for title, expr in panel_queries(source).items()}
    queries.update({("upstream", title): expr for title, expr in UPSTREAM[source].items()})
    times = {key: ([], []) for key in queries}
    data = {}
    for key, expr in queries.items():  # warm-up, and whether it answers
        data[key] = has_data(timed(session, prometheus.url, expr)[2])
    for _ in range(repeats):
        for key, expr in queries.items():
            server, wall, _ = timed(session, prometheus.url, expr)
            times[key][0].append(1000 * server)
            times[key][1].append(1000 * wall)
    median = {key: (statistics.median(server), statistics.median(wall)) for key, (server, wall) in times.items()}
    panels = []
    for title, expr in panel_queries(source).items():
        equivalents = EQUIVALENTS[source].get(title, ())
        row = {
            "panel": title,
            "query": expr,
            "has_data": data[("ours", title)],
            "server_ms": median[("ours", title)][0],
            "wall_ms": median[("ours", title)][1],
            "upstream_panels": list(equivalents),
        }
        if equivalents:
            row["upstream_server_ms"] = sum(median[("upstream", u)][0] for u in equivalents)
        panels.append(row)
    upstream = [
        {
            "panel": title,
            "query": expr,
            "has_data": data[("upstream", title)],
            "server_ms": median[("upstream", title)][0],
            "wall_ms": median[("upstream", title)][1],
        }
        for title, expr in UPSTREAM[source].items()
    ]
    ours_total = sum(p["server_ms"] for p in panels)
    upstream_total = sum(u["server_ms"] for u in upstream)
    return {
        "panels": panels,
        "upstream": upstream,
        "ours_total_ms": ours_total,
        "upstream_total_ms": upstream_total,
        "ratio": upstream_total / ours_total,
    }


def rule_groups(prometheus, source: str) -> list[dict]:
    """Each group's last evaluation time, taken after a quiet interval without bench queries, and its
    worst during the run (the bench's back-to-back queries compete for the same two cores), with
    its missed iterations, against the interval it ships with."""
    shipped = {g["name"]: seconds(g["interval"]) for g in flux_rule_groups(settings_for(source))}

    def by_group(expr: str) -> dict[str, float]:
        return {r["metric"]["rule_group"].split(";")[-1]: float(r["value"][1]) for r in prometheus.query(expr)}

    last = by_group("prometheus_rule_group_last_duration_seconds")
    worst = by_group("max_over_time(prometheus_rule_group_last_duration_seconds[1h])")
    missed = by_group("prometheus_rule_group_iterations_missed_total")
    evaluated = by_group("prometheus_rule_group_interval_seconds")
    return [
        {
            "group": name,
            "interval_s": interval,
            "bench_interval_s": evaluated[name],
            "last_duration_ms": 1000 * last[name],
            "share": last[name] / interval,
            "worst_duration_ms": 1000 * worst[name],
            "missed": missed[name],
        }
        for name, interval in shipped.items()
    ]


def object_series(prometheus, source: str, size: int) -> float:
    """Series per Flux object: the controllers' per-object series and the source's state series."""

    def value(expr: str) -> float:
        result = prometheus.query(expr)
        return float(result[0]["value"][1]) if result else 0.0

    controllers = value(f'count({{job="{CONTROLLER_JOB}", exported_namespace!=""}})')
    state = {
        "resource-info": value("count(gotk_resource_info)"),
        "flux-operator": value("count(flux_resource_info)"),
        "legacy": 0.0,
    }[source]
    return (controllers + state) / size


def controller_series(prometheus, controllers: int) -> float:
    """Series per controller that belong to no Flux object (runtime, work queues, API client)."""
    result = prometheus.query(f'count({{job="{CONTROLLER_JOB}", exported_namespace="", __name__!~"up|scrape_.+"}})')
    return (float(result[0]["value"][1]) if result else 0.0) / controllers


def bucket_series(prometheus, size: int) -> float:
    result = prometheus.query(f'count(gotk_reconcile_duration_seconds_bucket{{job="{CONTROLLER_JOB}"}})')
    return (float(result[0]["value"][1]) if result else 0.0) / size


def run_shape(binary: str, size: int, namespaces: int, args, workdir: Path, count_series: bool) -> dict:
    started = time.monotonic()
    fleets = {
        minor: Fleet(
            release=release(minor),
            controllers=installed(minor),
            objects=build_fleet(size, namespaces, release(minor), seed=size),
        )
        for minor in sorted(set(SOURCES.values()))
    }
    with ExitStack() as stack:
        ports = {minor: stack.enter_context(serve_fleet(fleet)) for minor, fleet in fleets.items()}
        servers, scrapes = {}, {}
        for source, minor in SOURCES.items():
            settings = settings_for(source)
            scrapes[source] = scrape_configs(
                ports[minor], fleets[minor], flux_pod_monitors(settings), kube_state_metrics=source == "resource-info"
            )
        unrelabeled = {}
        if count_series:
            # The Flux 2.4 fleet's controllers, and the Flux 2.9 fleet's with kube-state-metrics and the operator.
            for source in ("legacy", "flux-operator"):
                minor = SOURCES[source]
                unrelabeled[minor] = scrape_configs(
                    ports[minor],
                    fleets[minor],
                    flux_pod_monitors(settings_for(source)),
                    kube_state_metrics=source != "legacy",
                    relabel=False,
                )
        for name, scrape in {**scrapes, **{f"unrelabeled-{m}": s for m, s in unrelabeled.items()}}.items():
            directory = workdir / f"{size}-{namespaces}-{name}"
            directory.mkdir()
            groups = bench_rule_groups(name) if name in SOURCES else None
            servers[name] = stack.enter_context(
                start_prometheus(binary, directory, scrape, args.scrape_interval, groups, startup=60)
            )
        deadline = time.monotonic() + args.fill + 360
        scrapes_needed = max(5, round(args.fill / seconds(args.scrape_interval)))
        for name, prometheus in servers.items():
            configs = scrapes.get(name) or unrelabeled[name.split("-")[-1]]
            prometheus.wait_until_scraped(targets(configs), scrapes_needed, deadline)
        for source in SOURCES:
            servers[source].wait_for_rule_evaluation(deadline)
        ready = time.monotonic() - started
        print(f"  N={size:,}, {namespaces:,} namespaces: data ready after {ready:.0f}s", flush=True)
        runs = {source: measure(servers[source], source, args.repeats) for source in SOURCES}
        time.sleep(BENCH_RULE_INTERVAL)  # quiet: every group evaluates once without bench queries
        for source in SOURCES:
            controllers = len(installed(SOURCES[source]))
            runs[source]["rule_groups"] = rule_groups(servers[source], source)
            runs[source]["series_per_object"] = {"with": object_series(servers[source], source, size)}
            runs[source]["bucket_series_per_object"] = {"with": bucket_series(servers[source], size)}
            runs[source]["series_per_controller"] = {"with": controller_series(servers[source], controllers)}
            if count_series:
                raw = servers[f"unrelabeled-{SOURCES[source]}"]
                runs[source]["series_per_object"]["without"] = object_series(raw, source, size)
                runs[source]["bucket_series_per_object"]["without"] = bucket_series(raw, size)
                runs[source]["series_per_controller"]["without"] = controller_series(raw, controllers)
    return {"size": size, "namespaces": namespaces, "sources": runs, "seconds": time.monotonic() - started}


def machine() -> dict:
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "arch": platform.machine(),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def table(result: dict) -> str:
    lines = [
        "| N | namespaces | source | flux-cluster refresh (ms) | upstream refresh (ms) | ratio |"
        " panels slower than upstream | panels without data |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for run in result["runs"]:
        for source, r in run["sources"].items():
            slower = [p["panel"] for p in r["panels"] if p["server_ms"] > p.get("upstream_server_ms", math.inf)]
            empty = [p["panel"] for p in r["panels"] if not p["has_data"]]
            lines.append(
                f"| {run['size']:,} | {run['namespaces']:,} | {source} | {r['ours_total_ms']:.1f} | "
                f"{r['upstream_total_ms']:.1f} | {r['ratio']:.1f}x | {', '.join(slower) or 'none'} | "
                f"{', '.join(empty) or 'none'} |"
            )
    largest = max(run["size"] for run in result["runs"])
    for run in (r for r in result["runs"] if r["size"] == largest):
        lines += [
            "",
            f"Per panel, N = {run['size']:,}, {run['namespaces']:,} namespaces (server ms, median):",
            "",
            "| panel | " + " | ".join(f"{s} ours / upstream" for s in run["sources"]) + " |",
            "|---|" + "---|" * len(run["sources"]),
        ]
        for i, panel in enumerate(next(iter(run["sources"].values()))["panels"]):
            cells = []
            for r in run["sources"].values():
                p = r["panels"][i]
                upstream = f"{p['upstream_server_ms']:.2f}" if "upstream_server_ms" in p else "-"
                cells.append(f"{p['server_ms']:.2f} / {upstream}{'' if p['has_data'] else ' (NO DATA)'}")
            lines.append(f"| {panel['panel']} | " + " | ".join(cells) + " |")
        lines += [
            "",
            "| source | rule group | interval | evaluation (ms) | share of interval | worst during the "
            "queries (ms) | missed |",
            "|---|---|---|---|---|---|---|",
        ]
        for source, r in run["sources"].items():
            for g in r["rule_groups"]:
                lines.append(
                    f"| {source} | {g['group']} | {g['interval_s']}s (bench {g['bench_interval_s']:.0f}s) | "
                    f"{g['last_duration_ms']:.0f} | {100 * g['share']:.2f}% | {g['worst_duration_ms']:.0f} | "
                    f"{g['missed']:.0f} |"
                )
    series_runs = [
        run for run in result["runs"] if "without" in next(iter(run["sources"].values()))["series_per_object"]
    ]
    if series_runs:
        run = series_runs[-1]
        lines += [
            "",
            "| source | series per Flux object, without / with relabeling | of which duration buckets "
            "| series per controller, without / with |",
            "|---|---|---|---|",
        ]
        for source, r in run["sources"].items():
            s, b, c = r["series_per_object"], r["bucket_series_per_object"], r["series_per_controller"]
            lines.append(
                f"| {source} (Flux {SOURCES[source]}) | {s['without']:.2f} / {s['with']:.2f} | "
                f"{b['without']:.2f} / {b['with']:.2f} | {c['without']:.0f} / {c['with']:.0f} |"
            )
    return "\n".join(lines)


def check_targets(result: dict) -> list[str]:
    """The issue's targets at the largest N; what missed them."""
    largest = max(run["size"] for run in result["runs"])
    misses = []
    for run in (r for r in result["runs"] if r["size"] == largest):
        where = f"N={run['size']:,}, {run['namespaces']:,} namespaces"
        for source, r in run["sources"].items():
            if r["ratio"] < DASHBOARD_RATIO:
                misses.append(f"{where}, {source}: refresh {r['ratio']:.1f}x cheaper < {DASHBOARD_RATIO}x")
            for p in r["panels"]:
                if p["server_ms"] > p.get("upstream_server_ms", math.inf):
                    misses.append(
                        f"{where}, {source}, {p['panel']}: {p['server_ms']:.1f} ms > upstream "
                        f"{p['upstream_server_ms']:.1f} ms"
                    )
                if not p["has_data"]:
                    misses.append(f"{where}, {source}, {p['panel']}: no data")
            for g in r["rule_groups"]:
                if g["share"] > RULE_GROUP_SHARE:
                    misses.append(
                        f"{where}, {source}, rule group {g['group']}: {g['last_duration_ms']:.0f} ms > "
                        f"{100 * RULE_GROUP_SHARE:.0f}% of {g['interval_s']}s"
                    )
                if g["missed"]:
                    misses.append(f"{where}, {source}, rule group {g['group']}: {g['missed']:.0f} missed iterations")
    if result["total_seconds"] > RUN_SECONDS:
        misses.append(f"run took {result['total_seconds']:.0f}s > {RUN_SECONDS}s")
    return misses


def summary(result: dict) -> str:
    largest = max(run["size"] for run in result["runs"])
    ratios = ", ".join(
        f"{source} {run['namespaces']}ns {r['ratio']:.1f}x"
        for run in result["runs"]
        if run["size"] == largest
        for source, r in run["sources"].items()
    )
    verdict = "targets met" if not result["target_misses"] else f"{len(result['target_misses'])} targets missed"
    return f"SUMMARY N={largest:,}: {verdict}; refresh ratio {ratios}; run {result['total_seconds']:.0f}s"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10000])
    parser.add_argument("--shapes", type=int, nargs="+", default=list(SHAPES), help="namespaces per fleet")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--scrape-interval", default="15s")
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
    result = {
        "machine": machine(),
        "prometheus": version,
        "scrape_interval": args.scrape_interval,
        "fill_seconds": args.fill,
        "repeats": args.repeats,
        "sources": SOURCES,
        "timing": "Prometheus' execTotalTime (query stats), median of the repeats",
        "runs": [],
    }
    with tempfile.TemporaryDirectory(prefix="flux-bench-") as tmp:
        for size in args.sizes:
            for i, namespaces in enumerate(args.shapes):
                print(f"N={size:,}, {namespaces:,} namespaces: starting", flush=True)
                result["runs"].append(run_shape(binary, size, namespaces, args, Path(tmp), count_series=i == 0))
    result["total_seconds"] = time.monotonic() - started
    result["target_misses"] = check_targets(result)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    m = result["machine"]
    print(f"\n{m['arch']}, {m['cpu']}, {m['cores']} cores, {m['date']}, {version}\n")
    print(table(result))
    print(f"\nResults in {args.out}")
    if result["target_misses"]:
        print("Targets missed:\n  " + "\n  ".join(result["target_misses"]))
    print(summary(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
