"""The upstream dashboards' queries the bench compares with, per metric source, and which of them
show what each flux-cluster panel shows."""

from __future__ import annotations

from tests.support.flux_fleet import FLUX_NAMESPACE

# The cluster dashboards' queries, verbatim but for the variables: with a variable at All, Grafana sends the
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


# The example's control-plane dashboard, fluxcd/flux2-monitoring-example
# monitoring/configs/dashboards/control-plane.json @ 5274d23c2ba3779c75a0ead739a127a91055455a: every query
# Grafana sends (its P50 and P90 duration queries are hidden), $namespace the Flux namespace. go_info,
# go_memstats_alloc_bytes and the controller-runtime latency buckets are dropped by the program's
# metric relabelings, and container_memory_working_set_bytes is cAdvisor's: those answer nothing here.
_NS = f'namespace="{FLUX_NAMESPACE}"'
_PODS = 'pod=~".*-controller-.*"'


def _reconciles(controller: str, by: str) -> dict[str, str]:
    return {
        f"{controller} {result}": f'sum(increase(controller_runtime_reconcile_total{{controller="{controller}",'
        f'result{op}"error"}}[1m])){by}'
        for result, op in (("successful", "!="), ("failed", "="))
    }


UPSTREAM_CONTROL_PLANE = {
    "Controllers": f"sum(go_info{{{_NS},{_PODS}}})",
    "Max Work Queue": f"max(workqueue_longest_running_processor_seconds{{{_NS},{_PODS}}})",
    "Memory": f"sum(go_memstats_alloc_bytes{{{_NS},{_PODS}}})",
    "API Requests": f"sum(rate(rest_client_requests_total{{{_NS},{_PODS}}}[1m]))",
    "Kubernetes API Requests total": f"sum(rate(rest_client_requests_total{{{_NS}}}[1m]))",
    "Kubernetes API Requests errors": f'sum(rate(rest_client_requests_total{{{_NS},code!~"2.."}}[1m]))',
    "CPU Usage": f"rate(process_cpu_seconds_total{{{_NS},{_PODS}}}[1m])",
    "Memory Usage": f'sum(container_memory_working_set_bytes{{{_NS},container!="POD",container!="",{_PODS}}}) by (pod)',
    "Cluster Reconciliation Duration": 'workqueue_longest_running_processor_seconds{name="kustomization"}',
    **_reconciles("kustomization", " by (controller)"),
    **_reconciles("gitrepository", ""),
    **_reconciles("ocirepository", ""),
    **_reconciles("helmrepository", ""),
    **_reconciles("bucket", ""),
    "Helm Release Duration P99": "histogram_quantile(0.99, "
    'sum(rate(controller_runtime_reconcile_time_seconds_bucket{controller="helmrelease"}[5m])) by (le))',
    **_reconciles("helmrelease", " by (controller)"),
    **_reconciles("helmchart", " by (controller)"),
}
