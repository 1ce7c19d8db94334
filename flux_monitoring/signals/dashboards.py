"""The Flux dashboards, as code with Grafana's foundation SDK, and the ConfigMaps that ship them.

The uids match the Flux monitoring guide, so links to /d/flux-control-plane and /d/flux-cluster
work. This module lays out panels; every query comes from promql (FluxQueries, RecordedQueries),
the same builders the alert and recording rules use.
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
    OBJECT_DURATIONS_INTERVAL,
    OBJECT_P99_WINDOW,
    PER_OBJECT_WINDOW,
    QUANTILE_WINDOW,
    RECONCILERS,
    RECORDED_QUANTILES,
    SLOWEST,
    SOURCES,
    STATE_READY,
    SUSPENDED,
    FluxQueries,
    Kinds,
    RecordedQueries,
    clusters,
)
from flux_monitoring.signals.sources import SHARD_LABEL

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


def _recorded_every(interval: str) -> str:
    """The no-data text of a panel reading series recorded every ``interval``, longer than a refresh."""
    return f"No data: recorded every {interval}, from the rules' first evaluations on"


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


def _label_variable(name: str, label: str, query: str) -> dashboard.QueryVariable:
    """A variable holding values of the label ``name``, which ``query`` lists."""
    return (
        dashboard.QueryVariable(name)
        .label(label)
        .datasource(DATASOURCE)
        .query(query)
        .refresh(models.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(models.VariableSort.ALPHABETICAL_ASC)
        .multi(True)
        .include_all(True)
        .all_value(".*")
        .current(models.VariableOption(selected=True, text="All", value="$__all"))
    )


def _cluster_variable() -> dashboard.QueryVariable:
    """The fleet's clusters: those with a heartbeat in the time range (multi-value, All = the fleet)."""
    return _label_variable(CLUSTER, "Cluster", clusters())


def _fleet_overview(q: FluxQueries, recorded: RecordedQueries) -> list[stat.Panel]:
    """Per cluster: objects failing, unknown and suspended, controllers down, time since its heartbeat.

    Every cluster that sent a heartbeat in the last hour shows, with 0 where it has none.
    """

    def per_cluster(title: str, expr: str, width: int = 8) -> stat.Panel:
        return _stat(title, recorded.with_every_cluster(expr), width, legend="{{cluster}}")

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
        per_cluster("Controllers down per cluster", q.controllers_down_per_cluster(), width=12),
        _stat("Seconds since the last heartbeat", recorded.heartbeat_age(), 12, legend="{{cluster}}")
        .unit("s")
        .thresholds(silent),
    ]


def _alarm(value: float) -> dashboard.ThresholdsConfig:
    """Green below ``value``, red from it."""
    return (
        dashboard.ThresholdsConfig()
        .mode(models.ThresholdsMode.ABSOLUTE)
        .steps([models.Threshold(value=None, color="green"), models.Threshold(value=value, color="red")])
    )


def _blind_spots(q: FluxQueries) -> list[stat.Panel]:
    """What the signals cannot see, first on both dashboards (the same queries as FluxKindUnreported,
    FluxStateSourceDown and FluxVersionMismatch): 0 when all is seen."""
    source = q.source
    declared = q.settings.flux.release.minor
    panels = [
        _stat(
            "Kinds reconciled, not reported", q.unreported_kinds_stat(), 8, legend="{{kind}} {{cluster}}"
        ).description(
            f"Kinds the controllers reconcile that {source.name} reports no object of: their panels and "
            f"alerts are blind. Likely: {source.unreported_causes}."
        ),
    ]
    if (down := q.state_source_down_stat()) is not None:
        panels.append(
            _stat("State source down", down, 8, legend="{{cluster}}").description(
                f"{source.name}, where every object state comes from, is down, absent or stale."
            )
        )
    panels.append(
        _stat(
            f"Running Flux, not {declared}", q.other_flux_stat(), 8, legend="Flux {{running}} {{cluster}}"
        ).description(
            f"Flux controllers (or the FluxInstance) of another release than fluxVersion {declared}, per release "
            "running: the kinds, versions and metrics here are built for the declared one."
        )
    )
    return [panel.thresholds(_alarm(1)) for panel in panels]


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
    blind_spots = _blind_spots(q)
    panels = [
        *blind_spots,
        # Per controller of each cluster: controllers are named alike in every cluster of a fleet.
        _stat(
            "Controllers up", q.controllers_up(), width=24, legend=f"{{{{app}}}} {{{{{SHARD_LABEL}}}}} {{{{cluster}}}}"
        ),
        _timeseries("CPU per controller", "short", _query(q.controller_cpu(RATE), "{{app}} {{cluster}}")),
        _timeseries("Memory per controller", "bytes", _query(q.controller_memory(), "{{app}} {{cluster}}")),
        _timeseries("Work queue depth", "short", _query(recorded.workqueue_depth(), "{{app}} {{name}} {{cluster}}")),
        _timeseries(
            "Longest running processor", "s", _query(q.longest_running_processor(), "{{app}} {{name}} {{cluster}}")
        ),
        _timeseries(
            "Reconciliations per minute",
            "short",
            _query(recorded.reconciliations_per_minute(), "{{controller}} {{cluster}}"),
        ),
        _timeseries(
            "Reconciliation errors per minute",
            "short",
            _query(recorded.reconciliation_errors_per_minute(), "{{controller}} {{cluster}}"),
        ),
        _timeseries(
            "Kubernetes API requests per second",
            "reqps",
            _query(q.api_requests(RATE), "{{app}} {{method}} {{cluster}}"),
        ),
        _timeseries(
            "Kubernetes API error rate (5xx, 429)",
            "percentunit",
            _query(q.api_error_ratio(RATE), "{{app}} {{cluster}}"),
        ),
        # Recorded per controller namespace and kind (rules.py), over QUANTILE_WINDOW.
        _timeseries(
            "Reconcile duration per kind",
            "s",
            *[
                _query(
                    recorded.kind_duration_quantile(quantile),
                    f"{{{{kind}}}} p{int(quantile * 100)} {{{{cluster}}}}",
                    ref,
                )
                for quantile, ref in zip(RECORDED_QUANTILES, "ABC", strict=True)
            ],
        ).no_value(_recorded_every(QUANTILE_WINDOW)),
    ]
    if (instances := q.flux_instances()) is not None:
        # Only the Flux Operator knows the FluxInstance: Flux's own health and the version applied.
        # After the controllers' stat.
        panels.insert(len(blind_spots) + 1, _table("Flux instance (Flux Operator)", instances))
    variables = [
        _datasource_variable(),
        _cluster_variable(),
        _label_variable("namespace", "Flux namespace", q.controller_namespaces()),
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
        *_blind_spots(q),
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
        ).no_value(_recorded_every(QUANTILE_WINDOW)),
        _timeseries(
            f"Slowest {SLOWEST} objects, average reconcile duration",
            "s",
            _query(recorded.slowest_average(), "{{kind}} {{exported_namespace}}/{{name}} {{cluster}}"),
        )
        .description(
            f"Average reconcile duration over {PER_OBJECT_WINDOW}, which holds a reconciliation "
            "of every object that reconciles hourly."
        )
        .no_value(_recorded_every(OBJECT_DURATIONS_INTERVAL)),
        _timeseries(
            f"Slowest {SLOWEST} objects, p99 reconcile duration",
            "s",
            _query(recorded.slowest_p99(), "{{kind}} {{exported_namespace}}/{{name}} {{cluster}}"),
        )
        .description(
            f"Each object's worst p99 reconcile duration over {OBJECT_P99_WINDOW} (the window "
            f"FluxReconcileDurationHigh reads) in the last {PER_OBJECT_WINDOW}: an estimate, interpolated "
            "between the bounds of Flux's duration buckets (0.01 s to 1800 s); the alert reads only what the "
            "buckets know, the share of reconciles longer than its threshold."
        )
        .no_value(_recorded_every(OBJECT_DURATIONS_INTERVAL)),
    ]
    variables = [
        _datasource_variable(),
        _cluster_variable(),
        _label_variable("exported_namespace", "Namespace", q.object_namespaces()),
        # objectLabels: one variable each, filtering the failing and suspended objects.
        *(
            _label_variable(object_label_name(key), key, q.object_label_values(object_label_name(key)))
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
