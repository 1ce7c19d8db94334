"""Labels that tie the objects this program creates to what selects them.

The Helm values set Prometheus' selectors and Grafana's dashboard sidecar from these same
constants, so an object labelled with them is picked up by construction.
"""

from flux_monitoring.config.settings import RELEASE_NAME

# Prometheus selects PodMonitors and PrometheusRules carrying these labels.
PROMETHEUS_SELECTOR_LABELS = {"release": RELEASE_NAME}

# Grafana's sidecar loads dashboards from ConfigMaps carrying this label, in the monitoring namespace.
DASHBOARD_LABEL = "grafana_dashboard"
DASHBOARD_LABEL_VALUE = "1"

# Marks everything this program creates, for `kubectl get -l` and for ownership checks.
PART_OF_LABELS = {"app.kubernetes.io/part-of": "flux-monitoring"}

# The Helm release, in both deliveries: a first install pulls a dozen images and runs the
# admission-webhook hooks; the revisions Helm keeps for a rollback.
RELEASE_TIMEOUT_SECONDS = 900
MAX_HISTORY = 10
