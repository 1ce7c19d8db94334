"""What flux-monitoring costs Prometheus, rules and dashboards, against the upstream Flux dashboards,
on full windows.

For each fleet size N this serves two synthetic fleets on 127.0.0.1 (tests/support/flux_fleet.py,
modelled on the shared Flux release matrix: 5% failing, 2% suspended, Flux's real reconcile-duration
buckets, five objects per namespace): a Flux 2.4 one, the newest release with the controllers'
legacy gauges, and a Flux 2.9 one. One real Prometheus per metric source:
- legacy (Flux 2.4): the controllers' gotk_reconcile_condition / gotk_suspend_status;
- resource-info (Flux 2.9): kube-state-metrics' gotk_resource_info;
- flux-operator (Flux 2.9): the Flux Operator's flux_resource_info.

Each Prometheus first receives the history the longest window needs (bench/backfill.py: every
series its scrape would store, every 30 s, the operator's scrape interval, oldest first), then
loads the program's rule groups at their own intervals and scrapes the live fleet through the
program's PodMonitors every 30 s. While every group evaluates several times, the bench reads each
evaluation's time from /api/v1/rules; meanwhile it refreshes both dashboards, ours and upstream's,
on the same data (every panel query as an instant query, namespace variables at All, interleaved,
the median of the repeats of Prometheus' own execution time, query stats execTotalTime). It then
reads prometheus_rule_group_iterations_missed_total and prometheus_rule_group_last_duration_seconds.

It prints tables, writes the results as JSON and into docs/scale.md (bench/report.py), and stops
every process it starts. It needs ../shared/upstream/flux/matrix.yaml beside the checkout.

Run: venv/bin/python -m bench.benchmark (make bench; make bench SIZES=1000 for a quick run).
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from pathlib import Path

import requests
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import report  # noqa: E402
from bench.backfill import WriteRequest, longest_windows, metric_name, scraped_series, snappy_block  # noqa: E402
from bench.costs import GroupCost, round_complete  # noqa: E402
from bench.upstream import EQUIVALENTS, UPSTREAM, UPSTREAM_CONTROL_PLANE  # noqa: E402
from flux_monitoring.config.settings import load_settings  # noqa: E402
from flux_monitoring.signals.dashboards import cluster_dashboard, control_plane_dashboard  # noqa: E402
from flux_monitoring.signals.podmonitor import flux_pod_monitors  # noqa: E402
from flux_monitoring.signals.rules import flux_rule_groups  # noqa: E402
from tests.support.flux_fleet import (  # noqa: E402
    SELF_JOB,
    Fleet,
    FleetMetrics,
    MatrixRelease,
    Prometheus,
    build_fleet,
    load_matrix,
    scrape_configs,
    serve_fleet,
    start_prometheus,
    targets,
)

# Metric source -> the Flux release its fleet runs: the legacy gauges exist up to Flux 2.4.
SOURCES = {"legacy": "2.4", "resource-info": "2.9", "flux-operator": "2.9"}
# kube-prometheus-stack's default scrape interval, which the program's PodMonitors keep.
SCRAPE_INTERVAL = 30
# Each series gets the history of the longest range any rule or panel (ours or upstream's) reads it
# over (Prometheus' 5m lookback for one read without a range), and this margin: every window is full
# from the first evaluation on. (Prometheus cuts its head into a block only once it spans 3h.)
LOOKBACK = 5 * 60
MARGIN = 5 * 60
FULL_HISTORY_CAP = 3 * 3600 - 30 * 60
# Grafana's $__rate_interval: at least four scrape intervals.
RATE_INTERVAL = f"{4 * 30}s"
OBJECTS_PER_NAMESPACE = 5
# History sent per remote-write request: at most this span and this many series.
REQUEST_SECONDS = 15 * 60
REQUEST_SERIES = 20_000
CLUSTER, CONTROL_PLANE = "flux-cluster", "flux-control-plane"


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


def seconds(duration: str) -> int:
    return int(duration[:-1]) * {"s": 1, "m": 60, "h": 3600}[duration[-1]]


def panel_queries(model: dict, namespace: str | None = None) -> dict[str, str]:
    """Panel title (and refId when a panel has several) -> the query Grafana sends with the variables at
    All (``namespace``: the value of a variable without All, as upstream's)."""
    queries = {}
    for panel in model["panels"]:
        for target in panel["targets"]:
            expr = target["expr"]
            for variable in model["templating"]["list"]:
                if variable["type"] == "query":
                    expr = re.sub(rf"\$\{{?{variable['name']}\}}?\b", variable["allValue"], expr)
            expr = expr.replace("$__rate_interval", RATE_INTERVAL)
            title = panel["title"] if len(panel["targets"]) == 1 else f"{panel['title']} ({target['refId']})"
            queries[title] = expr
    return queries


def every_query(source: str) -> list[str]:
    """Every query the bench makes Prometheus evaluate for ``source``: rules, and both dashboards' panels."""
    settings = settings_for(source)
    rules = [r["expr"] for g in flux_rule_groups(settings) for r in g["rules"]]
    boards = [
        *panel_queries(cluster_dashboard(settings)).values(),
        *panel_queries(control_plane_dashboard(settings)).values(),
    ]
    return rules + boards + list(UPSTREAM[source].values()) + list(UPSTREAM_CONTROL_PLANE.values())


def history_requests(series: list, source: str, longest: int, now: int) -> list[tuple[int, WriteRequest]]:
    """The series in remote-write requests, each with the time its history starts (at most ``longest`` ago)."""
    windows = longest_windows(every_query(source))
    by_start: dict[int, list] = {}
    for s in series:
        history = min(longest, max(windows.get(metric_name(s.key), 0), LOOKBACK) + MARGIN)
        by_start.setdefault(now - history, []).append(s)
    return [
        (since, WriteRequest(group[i : i + REQUEST_SERIES]))
        for since, group in sorted(by_start.items())
        for i in range(0, len(group), REQUEST_SERIES)
    ]


def timed(session: requests.Session, url: str, expr: str) -> tuple[float, list]:
    """Prometheus' own execution time (query stats, seconds) and the result."""
    response = session.get(f"{url}/api/v1/query", params={"query": expr, "stats": "all"}, timeout=300)
    body = response.json()
    if body.get("status") != "success":
        raise RuntimeError(f"{expr}: {body}")
    return body["data"]["stats"]["timings"]["execTotalTime"], body["data"]["result"]


def has_data(result: list) -> bool:
    return bool(result) and not all(math.isnan(float(r["value"][1])) for r in result)


def measure_dashboards(prometheus: Prometheus, source: str, repeats: int) -> dict:
    """Median server times (ms) of every panel query of both dashboards, ours and upstream's, interleaved."""
    settings = settings_for(source)
    queries = {
        (CLUSTER, "ours"): panel_queries(cluster_dashboard(settings)),
        (CLUSTER, "upstream"): UPSTREAM[source],
        (CONTROL_PLANE, "ours"): panel_queries(control_plane_dashboard(settings)),
        (CONTROL_PLANE, "upstream"): UPSTREAM_CONTROL_PLANE,
    }
    flat = {(board, side, title): expr for (board, side), qs in queries.items() for title, expr in qs.items()}
    session = requests.Session()
    data = {key: has_data(timed(session, prometheus.url, expr)[1]) for key, expr in flat.items()}  # warm-up
    times: dict[tuple, list[float]] = {key: [] for key in flat}
    for _ in range(repeats):
        for key, expr in flat.items():
            times[key].append(1000 * timed(session, prometheus.url, expr)[0])
    median = {key: statistics.median(t) for key, t in times.items()}
    boards = {}
    for board in (CLUSTER, CONTROL_PLANE):
        panels = []
        for title, expr in queries[(board, "ours")].items():
            row = {"panel": title, "query": expr, "has_data": data[(board, "ours", title)]}
            row["server_ms"] = median[(board, "ours", title)]
            equivalents = EQUIVALENTS[source].get(title, ()) if board == CLUSTER else ()
            if equivalents:
                row["upstream_panels"] = list(equivalents)
                row["upstream_server_ms"] = sum(median[(board, "upstream", u)] for u in equivalents)
            panels.append(row)
        upstream = [
            {
                "panel": t,
                "query": e,
                "has_data": data[(board, "upstream", t)],
                "server_ms": median[(board, "upstream", t)],
            }
            for t, e in queries[(board, "upstream")].items()
        ]
        boards[board] = {
            "panels": panels,
            "upstream": upstream,
            "ours_ms": sum(p["server_ms"] for p in panels),
            "upstream_ms": sum(u["server_ms"] for u in upstream),
        }
    return boards


class RuleWatch:
    """Polls /api/v1/rules in a thread, keeping each group evaluation's time and its rules' times once."""

    def __init__(self, prometheus: Prometheus, poll: float = 5.0):
        self.prometheus, self.poll = prometheus, poll
        self.evaluations: dict[str, dict[str, dict]] = {}  # group -> lastEvaluation -> {time, rules}
        self.intervals: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> RuleWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=60)

    def _run(self) -> None:
        session = requests.Session()
        while not self._stop.wait(self.poll):
            try:
                groups = session.get(f"{self.prometheus.url}/api/v1/rules", timeout=30).json()["data"]["groups"]
            except (requests.RequestException, ValueError, KeyError):
                continue
            for g in groups:
                if g["lastEvaluation"].startswith("0001"):  # not evaluated yet
                    continue
                self.intervals[g["name"]] = g["interval"]
                self.evaluations.setdefault(g["name"], {})[g["lastEvaluation"]] = {
                    "seconds": g["evaluationTime"],
                    "rules": {r["name"] + "|" + str(i): r["evaluationTime"] for i, r in enumerate(g["rules"])},
                }

    def count(self, group: str) -> int:
        return len(self.evaluations.get(group, {}))

    def round_complete(self, groups: list[str]) -> bool:
        return round_complete({g: list(self.evaluations.get(g, {})) for g in groups})


def write_history(servers: dict[str, Prometheus], series: dict[str, list], start: int, end: int, ages) -> int:
    """Sends every source's series from ``start`` (or where its history starts) to ``end`` (unix seconds,
    every SCRAPE_INTERVAL), oldest first; returns the samples sent."""
    session, sent = requests.Session(), 0
    headers = {
        "Content-Encoding": "snappy",
        "Content-Type": "application/x-protobuf",
        "X-Prometheus-Remote-Write-Version": "0.1.0",
    }
    for window_start in range(start, end, REQUEST_SECONDS):
        window = range(window_start, min(end, window_start + REQUEST_SECONDS), SCRAPE_INTERVAL)
        for source, requests_ in series.items():
            for since, request in requests_:
                stamps = [t for t in window if t >= since]
                if not stamps:
                    continue
                body = snappy_block(request.encode(stamps, ages[source]))
                response = session.post(f"{servers[source].url}/api/v1/write", data=body, headers=headers, timeout=600)
                if response.status_code != 204:
                    raise RuntimeError(f"remote write to {source}: {response.status_code} {response.text[:500]}")
                sent += len(request.series) * len(stamps)
    return sent


def empty_prometheus(binary: str, workdir: Path):
    """A Prometheus on 127.0.0.1 that scrapes nothing yet (not even itself) and accepts remote writes and reloads."""
    workdir.mkdir(parents=True)
    flags = ("--web.enable-remote-write-receiver", "--web.enable-lifecycle")
    return start_prometheus(binary, workdir, [], f"{SCRAPE_INTERVAL}s", startup=60, flags=flags, scrape_itself=False)


def start_rules_and_scrapes(prometheus: Prometheus, workdir: Path, scrape: list[dict], groups: list[dict]) -> None:
    """Loads the rule groups (their own intervals) and the scrapes (and a scrape of itself), by reload."""
    (workdir / "rules.yml").write_text(yaml.safe_dump({"groups": groups}))
    itself = {"job_name": SELF_JOB, "static_configs": [{"targets": [prometheus.url.removeprefix("http://")]}]}
    config = {
        "global": {
            "scrape_interval": f"{SCRAPE_INTERVAL}s",
            "scrape_timeout": f"{SCRAPE_INTERVAL}s",
            "evaluation_interval": f"{SCRAPE_INTERVAL}s",
        },
        "scrape_configs": [*scrape, itself],
        "rule_files": [str(workdir / "rules.yml")],
    }
    (workdir / "prometheus.yml").write_text(yaml.safe_dump(config))
    response = requests.post(f"{prometheus.url}/-/reload", timeout=120)
    response.raise_for_status()


def directory_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def group_costs(prometheus: Prometheus, watch: RuleWatch, source: str) -> list[dict]:
    """Each group's evaluations (all seen), missed iterations and last duration, against its interval."""

    def by_group(expr: str) -> dict[str, float]:
        return {r["metric"]["rule_group"].split(";")[-1]: float(r["value"][1]) for r in prometheus.query(expr)}

    missed = by_group("prometheus_rule_group_iterations_missed_total")
    last = by_group("prometheus_rule_group_last_duration_seconds")
    rows = []
    for group in flux_rule_groups(settings_for(source)):
        evaluations = watch.evaluations.get(group["name"], {})
        cost = GroupCost(group["name"], seconds(group["interval"]), tuple(e["seconds"] for e in evaluations.values()))
        rules: dict[str, list[float]] = {}
        for e in evaluations.values():
            for rule, t in e["rules"].items():
                rules.setdefault(rule, []).append(t)
        rows.append(
            {
                "group": group["name"],
                "interval_s": cost.interval_s,
                "evaluations": len(cost.durations_s),
                "durations_s": list(cost.durations_s),
                "median_ms": 1000 * cost.median_s,
                "max_ms": 1000 * max(cost.durations_s),
                "share": cost.share,
                "per_hour_s": cost.per_hour_s,
                "missed": missed.get(group["name"], 0.0),
                "last_duration_ms": 1000 * last.get(group["name"], math.nan),
                "rules_ms": {rule: 1000 * statistics.median(t) for rule, t in rules.items()},
            }
        )
    return rows


def run_size(binary: str, size: int, history: int, args, workdir: Path) -> dict:
    started = time.monotonic()
    namespaces = max(1, size // OBJECTS_PER_NAMESPACE)
    fleets = {
        minor: Fleet(
            release=release(minor),
            controllers=installed(minor),
            objects=build_fleet(size, namespaces, release(minor), seed=size),
            started=time.monotonic() - history,  # as if running for the whole history already
        )
        for minor in sorted(set(SOURCES.values()))
    }
    with ExitStack() as stack:
        ports = {minor: stack.enter_context(serve_fleet(fleet)) for minor, fleet in fleets.items()}
        scrapes, series, ages = {}, {}, {}
        now = int(time.time())
        for source, minor in SOURCES.items():
            scrapes[source] = scrape_configs(
                ports[minor],
                fleets[minor],
                flux_pod_monitors(settings_for(source)),
                kube_state_metrics=source == "resource-info",
            )
            metrics = FleetMetrics(fleets[minor])
            every = scraped_series(scrapes[source], lambda path, age, m=metrics: m.endpoint(path, age)[1])
            series[source] = history_requests(every, source, history, now)
            origin = time.time() - metrics.elapsed()  # the wall time at which the fleet's counters were at 0
            ages[source] = lambda t, origin=origin: t - origin
        servers = {s: stack.enter_context(empty_prometheus(binary, workdir / f"{size}-{s}")) for s in SOURCES}
        start = min(since for requests_ in series.values() for since, _ in requests_)
        needed = max(max(longest_windows(every_query(s)).values()) for s in SOURCES) + MARGIN
        sent = write_history(servers, series, start, now, ages)
        # Up to the moment the scrapes start, so that no window has a gap: each catch-up is shorter
        # than the one before, until one takes less than a scrape interval (or a few, on a loaded machine).
        for _ in range(5):
            caught_up, now = now, int(time.time())
            if now - caught_up < SCRAPE_INTERVAL:
                break
            sent += write_history(servers, series, caught_up, now, ages)
        gap = int(time.time()) - now
        ingested = time.monotonic() - started
        print(
            f"  N={size:,}: {sent:,} samples, {(now - start) / 60:.0f} min of history, sent in {ingested:.0f}s",
            flush=True,
        )
        watches = {}
        for source, prometheus in servers.items():
            start_rules_and_scrapes(
                prometheus, workdir / f"{size}-{source}", scrapes[source], flux_rule_groups(settings_for(source))
            )
            watches[source] = stack.enter_context(RuleWatch(prometheus))
        deadline = time.monotonic() + 600
        for source, prometheus in servers.items():
            prometheus.wait_until_scraped(targets(scrapes[source]), 1, deadline)
        group_names = {s: [g["name"] for g in flux_rule_groups(settings_for(s))] for s in SOURCES}

        def evaluated(n: int) -> bool:
            return all(watches[s].count(g) >= n for s in SOURCES for g in group_names[s])

        # The panels are timed once the rules have run one whole round: a record read over a window of
        # another group's (the slowest objects, of the per-object durations every 15 minutes) exists
        # only from its first evaluation after that group's first.
        while not all(watches[s].round_complete(group_names[s]) for s in SOURCES):
            time.sleep(5)
        boards = {source: measure_dashboards(servers[source], source, args.repeats) for source in SOURCES}
        limit = time.monotonic() + args.max_wait
        while not evaluated(args.evaluations) and time.monotonic() < limit:
            time.sleep(5)
        runs = {}
        for source, prometheus in servers.items():
            failures = prometheus.value("sum(prometheus_rule_evaluation_failures_total)")
            runs[source] = {
                "dashboards": boards[source],
                "groups": group_costs(prometheus, watches[source], source),
                "rule_failures": failures or 0.0,
                "series": prometheus.value("prometheus_tsdb_head_series"),
                "tsdb_bytes": directory_bytes(workdir / f"{size}-{source}" / "data"),
            }
    for source in SOURCES:
        shutil.rmtree(workdir / f"{size}-{source}", ignore_errors=True)
    return {
        "size": size,
        "namespaces": namespaces,
        "history_s": now - start,
        "full": needed <= history,
        "samples_sent": sent,
        "gap_s": gap,
        "ingest_s": ingested,
        "seconds": time.monotonic() - started,
        "sources": runs,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 50000])
    parser.add_argument(
        "--full-up-to", type=int, default=10000, help="larger sizes get --short-history instead of full windows"
    )
    parser.add_argument("--short-history", type=int, default=40 * 60, help="seconds of history above --full-up-to")
    parser.add_argument("--evaluations", type=int, default=2, help="evaluations of every group to wait for")
    parser.add_argument("--max-wait", type=float, default=660, help="seconds to wait for them at most")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=ROOT / "bench-results" / "results.json")
    parser.add_argument("--docs", type=Path, default=ROOT / "docs" / "scale.md")
    parser.add_argument("--no-docs", action="store_true", help="do not write the results into --docs")
    parser.add_argument("--from-results", type=Path, help="report the results of an earlier run (its JSON) again")
    args = parser.parse_args()
    if args.from_results:
        return publish(json.loads(args.from_results.read_text()), args)
    # A terminated run unwinds like an interrupted one, so every Prometheus it started is stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    binary = shutil.which("prometheus")
    if not binary:
        print("prometheus is not installed (Debian package: prometheus)", file=sys.stderr)
        return 2
    version = subprocess.run([binary, "--version"], capture_output=True, text=True).stdout.split("\n")[0]
    started = time.monotonic()
    result = {
        "machine": report.machine(),
        "load_start": os.getloadavg(),
        "prometheus": version,
        "commit": subprocess.run(
            ["git", "-C", str(ROOT), "describe", "--always", "--dirty"], capture_output=True, text=True
        ).stdout.strip(),
        "scrape_interval_s": SCRAPE_INTERVAL,
        "repeats": args.repeats,
        "sources": SOURCES,
        "full_up_to": args.full_up_to,
        "runs": [],
    }
    with tempfile.TemporaryDirectory(prefix="flux-bench-") as tmp:
        result["disk_free_bytes"] = shutil.disk_usage(tmp).free
        for size in args.sizes:
            history = FULL_HISTORY_CAP if size <= args.full_up_to else args.short_history
            print(f"N={size:,}: starting (at most {history / 60:.0f} min of history)", flush=True)
            result["runs"].append(run_size(binary, size, history, args, Path(tmp)))
            result["load_end"] = os.getloadavg()
            result["total_seconds"] = time.monotonic() - started
            # After each size, so that a larger size that fails or is stopped leaves the smaller
            # ones' results (--from-results reports them).
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"Results in {args.out}")
    return publish(result, args)


def publish(result: dict, args) -> int:
    """Prints the results and writes them into the docs page (unless --no-docs)."""
    result["target_misses"] = report.target_misses(result)
    for run in result["runs"]:  # where each group's time goes, for whoever makes the rules cheaper
        for source, r in run["sources"].items():
            for g in r["groups"]:
                costly = sorted(g["rules_ms"].items(), key=lambda item: -item[1])[:4]
                rules = ", ".join(f"{rule.split('|')[0]} {ms:.0f}" for rule, ms in costly)
                print(f"N={run['size']:,} {source} {g['group']}: {g['median_ms']:.0f} ms ({rules})")
    text = report.markdown(result)
    print("\n" + text)
    if not args.no_docs:
        report.write_into(args.docs, text)
        print(f"\nWritten into {args.docs}")
    print(report.summary(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
