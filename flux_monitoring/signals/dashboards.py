"""The Flux dashboards, as code with Grafana's foundation SDK, and the ConfigMaps that ship them.

The uids match the Flux monitoring guide, so links to /d/flux-control-plane and /d/flux-cluster
work. Queries come from promql.FluxQueries, the same builders the alert rules use.
"""

from __future__ import annotations

import json

from grafana_foundation_sdk.builders import bargauge, dashboard, prometheus, stat, table, timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import dashboard as models
from grafana_foundation_sdk.models.prometheus import PromQueryFormat

from flux_monitoring.config.names import DASHBOARD_LABEL, DASHBOARD_LABEL_VALUE, PART_OF_LABELS
from flux_monitoring.config.settings import Settings, SloSettings
from flux_monitoring.config.slo import error_budget
from flux_monitoring.config.types import object_label_name
from flux_monitoring.signals.promql import (
    ALL_KINDS,
    CLUSTER,
    HEARTBEAT,
    OBJECT_P99_WINDOW,
    PER_OBJECT_WINDOW,
    RECONCILE_ERROR_RATE,
    RECONCILE_RATE,
    RECONCILERS,
    SLOWEST,
    SOURCES,
    STATE_READY,
    SUSPENDED,
    WORKQUEUE_DEPTH,
    FluxQueries,
    Kinds,
    RecordedQueries,
    duration_quantile_record,
)
from flux_monitoring.signals.sources import FluxOperatorSource

CONTROL_PLANE_UID = "flux-control-plane"
CLUSTER_UID = "flux-cluster"

DATASOURCE = models.DataSourceRef(type_val="prometheus", uid="${datasource}")
RATE = "$__rate_interval"
# The cluster variable: every query filters on it. All is the whole fleet at a central store; a
# cluster's own Prometheus has no cluster label, and ".*" also matches series without it.
CLUSTERS = f"${CLUSTER}"
# A cluster whose last heartbeat (recorded every minute, rules.py) is older than this stopped sending.
SILENT_AFTER_SECONDS = 120


def _query(expr: str, legend: str = "__auto", ref: str = "A") -> prometheus.Dataquery:
    return prometheus.Dataquery().expr(expr).legend_format(legend).ref_id(ref).datasource(DATASOURCE)


def _timeseries(title: str, unit: str, *queries: prometheus.Dataquery) -> timeseries.Panel:
    panel = timeseries.Panel().title(title).unit(unit).datasource(DATASOURCE).span(12).height(8)
    for query in queries:
        panel = panel.with_target(query)
    return panel


def _stat(title: str, expr: str, width: int = 3, legend: str | None = None) -> stat.Panel:
    return (
        stat.Panel()
        .title(title)
        .datasource(DATASOURCE)
        .span(width)
        .height(4)
        .with_target(_query(expr, legend=legend or title).instant())
    )


def _table(title: str, expr: str) -> table.Panel:
    # One row per object: its labels as columns, without the constant Time and Value columns.
    hide = models.DataTransformerConfig(id_val="organize", options={"excludeByName": {"Time": True, "Value": True}})
    return (
        table.Panel()
        .title(title)
        .datasource(DATASOURCE)
        .span(12)
        .height(10)
        .with_target(_query(expr).instant().format(PromQueryFormat.TABLE))
        .with_transformation(hide)
    )


def _budget_panels(recorded: RecordedQueries, slo: SloSettings) -> list:
    """The delivery SLO per namespace: the error budget left over the window, and the SLI."""
    budget = error_budget(slo.objective)
    left = (
        bargauge.Panel()
        .title(f"Delivery error budget left ({slo.window}, objective {slo.objective:g}%)")
        .description(
            "Per namespace: the part of its error budget not yet spent, from the recorded fraction of "
            f"object-time its Kustomizations and HelmReleases were failing over {slo.window}. Below 0: the "
            "objective is missed."
        )
        .datasource(DATASOURCE)
        .span(12)
        .height(8)
        .unit("percentunit")
        .min(0)
        .max(1)
        .with_target(_query(recorded.budget_left(slo.window, budget), "{{exported_namespace}} {{cluster}}").instant())
    )
    availability = _query(f"1 - {recorded.slo_error_ratio(slo.window)}", "{{exported_namespace}} {{cluster}}")
    return [left, _timeseries(f"Delivery availability ({slo.window})", "percentunit", availability)]


def _datasource_variable() -> dashboard.DatasourceVariable:
    return dashboard.DatasourceVariable("datasource").label("Data source").type("prometheus")


def _label_variable(name: str, label: str, source: str) -> dashboard.QueryVariable:
    return (
        dashboard.QueryVariable(name)
        .label(label)
        .datasource(DATASOURCE)
        .query(f"label_values({source}, {name})")
        .refresh(models.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(models.VariableSort.ALPHABETICAL_ASC)
        .multi(True)
        .include_all(True)
        .all_value(".*")
        .current(models.VariableOption(selected=True, text="All", value="$__all"))
    )


def _cluster_variable() -> dashboard.QueryVariable:
    """The fleet's clusters: those with a heartbeat in the time range (multi-value, All = the fleet)."""
    return _label_variable(CLUSTER, "Cluster", HEARTBEAT)


def _fleet_overview(q: FluxQueries, recorded: RecordedQueries) -> list[stat.Panel]:
    """Per cluster: objects failing, unknown and suspended, controllers down, time since its heartbeat.

    Every cluster that sent a heartbeat in the last hour shows, with 0 where it has none.
    """
    every_cluster = f'0 * group by (cluster) ({HEARTBEAT}{{cluster=~"{CLUSTERS}"}})'

    def per_cluster(title: str, expr: str, width: int = 8) -> stat.Panel:
        return _stat(title, f"{expr}\nor {every_cluster}", width, legend="{{cluster}}")

    silence = f'time() - max by (cluster) (max_over_time({HEARTBEAT}{{cluster=~"{CLUSTERS}"}}[1h]))'
    silent = (
        dashboard.ThresholdsConfig()
        .mode(models.ThresholdsMode.ABSOLUTE)
        .steps([models.Threshold(value=None, color="green"), models.Threshold(value=SILENT_AFTER_SECONDS, color="red")])
    )
    return [
        *[
            per_cluster(f"{state.capitalize()} objects per cluster", recorded.objects_per_cluster(state))
            for state in ("failing", "unknown", SUSPENDED)
        ],
        per_cluster("Controllers down per cluster", f"count by (cluster) (up{q.controllers()} == 0)", width=12),
        _stat("Seconds since the last heartbeat", silence, 12, legend="{{cluster}}").unit("s").thresholds(silent),
    ]


def _build(builder: dashboard.Dashboard, panels: list) -> dict:
    for number, panel in enumerate(panels, start=1):
        builder = builder.with_panel(panel.id(number))  # fixed ids keep the JSON stable
    return json.loads(json.dumps(builder.build(), cls=JSONEncoder, sort_keys=True))


def _dashboard(uid: str, title: str, variables: list) -> dashboard.Dashboard:
    return (
        dashboard.Dashboard(title)
        .uid(uid)
        .tags(["flux"])
        .time("now-1h", "now")
        .refresh("1m")
        .tooltip(models.DashboardCursorSync.CROSSHAIR)
        .variables(variables)
    )


def control_plane_dashboard(settings: Settings) -> dict:
    """Health and load of the Flux controllers."""
    q = FluxQueries(settings, controller_namespace="$namespace", cluster=CLUSTERS)
    # Work queues, reconciliation and error rates are recorded per controller (rules.py), over
    # the recording window; they keep the controllers' namespace, which the variable filters.
    recorded = RecordedQueries(settings, controller_namespace="$namespace", cluster=CLUSTERS)

    def controllers(metric: str, *matchers: str) -> str:
        return f"{metric}{q.controllers(*matchers)}"

    api = controllers("rest_client_requests_total")
    api_errors = controllers("rest_client_requests_total", 'code=~"5..|429"')
    # One value per installed controller (fluxComponents), 0 for one without a target.
    missing = [f'label_replace(vector(0), "app", "{app}", "", "")' for app in settings.flux.components]
    # "or on (app)": a zero only for a controller no cluster has a target of (All), or the chosen one has not.
    up = "\nor on (app) ".join([f"sum by (cluster, app) ({controllers('up')})", *missing])
    panels = [
        # Per controller of each cluster: controllers are named alike in every cluster of a fleet.
        _stat("Controllers up", up, width=24, legend="{{app}} {{cluster}}"),
        _timeseries(
            "CPU per controller",
            "short",
            _query(
                f"sum by (cluster, app) (rate({controllers('process_cpu_seconds_total')}[{RATE}]))",
                "{{app}} {{cluster}}",
            ),
        ),
        # The controller's own resident memory: it needs no cAdvisor series.
        _timeseries(
            "Memory per controller",
            "bytes",
            _query(f"sum by (cluster, app) ({controllers('process_resident_memory_bytes')})", "{{app}} {{cluster}}"),
        ),
        _timeseries(
            "Work queue depth",
            "short",
            _query(
                recorded.per_controller(WORKQUEUE_DEPTH, ("cluster", "app", "name")), "{{app}} {{name}} {{cluster}}"
            ),
        ),
        _timeseries(
            "Longest running processor",
            "s",
            _query(
                f"max by (cluster, app, name) ({controllers('workqueue_longest_running_processor_seconds')})",
                "{{app}} {{name}} {{cluster}}",
            ),
        ),
        _timeseries(
            "Reconciliations per minute",
            "short",
            _query(
                f"{recorded.per_controller(RECONCILE_RATE, ('cluster', 'controller'))} * 60",
                "{{controller}} {{cluster}}",
            ),
        ),
        _timeseries(
            "Reconciliation errors per minute",
            "short",
            _query(
                f"{recorded.per_controller(RECONCILE_ERROR_RATE, ('cluster', 'controller'))} * 60",
                "{{controller}} {{cluster}}",
            ),
        ),
        _timeseries(
            "Kubernetes API requests per second",
            "reqps",
            _query(f"sum by (cluster, app, method) (rate({api}[{RATE}]))", "{{app}} {{method}} {{cluster}}"),
        ),
        _timeseries(
            "Kubernetes API error rate (5xx, 429)",
            "percentunit",
            _query(
                f"sum by (cluster, app) (rate({api_errors}[{RATE}]))\n/ sum by (cluster, app) (rate({api}[{RATE}]))",
                "{{app}} {{cluster}}",
            ),
        ),
        # Recorded per controller namespace and kind (rules.py), over the recording window.
        _timeseries(
            "Reconcile duration per kind",
            "s",
            *[
                _query(
                    f"max by (cluster, kind) ({duration_quantile_record(quantile)}"
                    f'{{namespace=~"$namespace", cluster=~"{CLUSTERS}"}})',
                    f"{{{{kind}}}} p{int(quantile * 100)} {{{{cluster}}}}",
                    ref,
                )
                for quantile, ref in ((0.5, "A"), (0.9, "B"), (0.99, "C"))
            ],
        ),
    ]
    if isinstance(source := q.source, FluxOperatorSource):
        # Only the Flux Operator knows the FluxInstance: Flux's own health and the version applied.
        panels.insert(
            1,
            _table(
                "Flux instance (Flux Operator)", source.instances(f'namespace=~"$namespace", cluster=~"{CLUSTERS}"')
            ),
        )
    variables = [
        _datasource_variable(),
        _cluster_variable(),
        _label_variable("namespace", "Flux namespace", f"up{FluxQueries(settings, cluster=CLUSTERS).controllers()}"),
    ]
    return _build(_dashboard(CONTROL_PLANE_UID, "Flux Control Plane", variables), panels)


def cluster_dashboard(settings: Settings) -> dict:
    """State of the Flux objects: what is ready, failing, unknown or suspended, and how long reconciling takes.

    Every panel reads recorded series (rules.py): fleet totals with the namespace variable at All
    (the raw series of just the selected namespaces otherwise), and per-object series for the
    failing, suspended and slowest objects only.
    """
    q = FluxQueries(settings, object_namespace="$exported_namespace", cluster=CLUSTERS)
    recorded = RecordedQueries(
        settings, object_namespace="$exported_namespace", cluster=CLUSTERS, by_object_labels=True
    )

    def counts(group: str, kinds: Kinds) -> list[stat.Panel]:
        return [_stat(f"{group} {label}", recorded.object_count(label, kinds)) for label in STATE_READY]

    panels = [
        *_fleet_overview(q, recorded),
        *counts("Reconcilers", RECONCILERS),
        *counts("Sources", SOURCES),
        _stat("Suspended", recorded.object_count(SUSPENDED, ALL_KINDS), width=6),
        _table("Failing objects", recorded.failing_objects()),
        _table("Suspended objects", recorded.suspended_objects()),
        *(_budget_panels(recorded, settings.slo) if settings.slo else ()),
        _timeseries(
            "Average reconcile duration per kind", "s", _query(recorded.duration_average(("kind",)), "{{kind}}")
        ),
        _timeseries(
            "p99 reconcile duration per kind", "s", _query(recorded.duration_quantile(0.99, ("kind",)), "{{kind}}")
        ),
        _timeseries(
            f"Slowest {SLOWEST} objects, average reconcile duration",
            "s",
            _query(recorded.slowest_average(), "{{kind}} {{exported_namespace}}/{{name}} {{cluster}}"),
        ).description(
            f"Average reconcile duration over {PER_OBJECT_WINDOW}, which holds a reconciliation "
            "of every object that reconciles hourly."
        ),
        _timeseries(
            f"Slowest {SLOWEST} objects, p99 reconcile duration",
            "s",
            _query(recorded.slowest_p99(), "{{kind}} {{exported_namespace}}/{{name}} {{cluster}}"),
        ).description(
            f"Each object's worst p99 reconcile duration over {OBJECT_P99_WINDOW} (the window "
            f"FluxReconcileDurationHigh reads) in the last {PER_OBJECT_WINDOW}: an estimate, interpolated "
            "between the bounds of Flux's duration buckets (0.01 s to 1800 s); the alert reads only what the "
            "buckets know, the share of reconciles longer than its threshold."
        ),
    ]
    variables = [
        _datasource_variable(),
        _cluster_variable(),
        _label_variable("exported_namespace", "Namespace", f'{q.source.state_metric}{{cluster=~"{CLUSTERS}"}}'),
        # objectLabels: one variable each, filtering the failing and suspended objects.
        *(
            _label_variable(object_label_name(key), key, f'{q.source.state_metric}{{cluster=~"{CLUSTERS}"}}')
            for key in settings.object_labels
        ),
    ]
    board = _dashboard(CLUSTER_UID, "Flux Cluster Stats", variables)
    if settings.flux_events.grafana_annotations:
        # The annotations Flux's grafana Provider writes, all tagged flux (fluxcd/notification-controller
        # docs/spec/v1beta3/providers.md "Grafana": match any, tag flux), from Grafana's own store.
        board = board.annotation(
            dashboard.AnnotationQuery()
            .name("Flux events")
            .enable(True)
            .icon_color("purple")
            .datasource(models.DataSourceRef(type_val="grafana", uid="-- Grafana --"))
            .target(dashboard.AnnotationTarget().type("tags").tags(["flux"]).match_any(True).limit(100))
        )
    return _build(board, panels)


def dashboard_config_maps(settings: Settings) -> list[dict]:
    """One ConfigMap per dashboard, labelled for Grafana's dashboard sidecar."""
    return [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": model["uid"],
                "namespace": settings.namespace,
                "labels": {**PART_OF_LABELS, DASHBOARD_LABEL: DASHBOARD_LABEL_VALUE},
            },
            "data": {f"{model['uid']}.json": json.dumps(model, sort_keys=True, indent=1)},
        }
        for model in (control_plane_dashboard(settings), cluster_dashboard(settings))
    ]
