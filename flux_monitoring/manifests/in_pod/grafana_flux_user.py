"""Keeps Flux's Grafana user as the stack says: it runs in Grafana's pod, beside Grafana.

Flux's grafana Provider posts annotations with basic auth (fluxcd/notification-controller
internal/notifier/grafana.go). This program makes the user it logs in as exist in Grafana with the
password Pulumi generated and the Editor role, the least basic role that may create organization
annotations; it never holds more. It talks to Grafana on localhost as the admin, whose credentials
Grafana's pod already has, so no Secret leaves the monitoring namespace and no pod writes one.
docs/decisions/0001-flux-grafana-credential.md says why.

Run by the pod as ``python -u -c <this file>``: every INTERVAL seconds it checks and repairs what
differs, and marks READY_FILE while the user logs in as it should. The container's startup probe
reads that file, not Grafana: a probe that logged in would count as a failed login against Grafana's
brute-force protection whenever the password is wrong.

Standard library only: the image is the chart's sidecar image (kiwigrid/k8s-sidecar, a Python one).
Grafana's HTTP API, grafana/grafana pkg/api (api.go routes, admin_users.go, org_users.go, user.go):
GET /api/users/lookup?loginOrEmail= (404 for none), POST /api/admin/users (200 {"id"}; 412 when
the login exists), PUT /api/admin/users/:id/password, GET /api/users/:id/orgs ([{"orgId", "role"}]),
POST /api/orgs/:orgId/users, PATCH /api/orgs/:orgId/users/:userId {"role"}, GET /api/user (401 for a
wrong password). No password is ever printed.
"""

import base64
import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request

ROLE = "Editor"
ENV = {
    "url": "GRAFANA_URL",
    "admin_user": "GF_SECURITY_ADMIN_USER",
    "admin_password": "GF_SECURITY_ADMIN_PASSWORD",
    "user": "FLUX_GRAFANA_USER",
    "password": "FLUX_GRAFANA_PASSWORD",
    "org": "FLUX_GRAFANA_ORG_ID",
    "interval": "FLUX_GRAFANA_INTERVAL",
    "ready_file": "FLUX_GRAFANA_READY_FILE",
}


class GrafanaError(Exception):
    pass


def _settings():
    missing = [name for key, name in ENV.items() if key not in ("org", "interval") and not os.environ.get(name)]
    if missing:
        raise SystemExit(f"missing environment: {', '.join(missing)}")
    settings = {key: os.environ.get(name, "") for key, name in ENV.items()}
    settings["org"] = int(settings["org"] or 1)
    settings["interval"] = float(settings["interval"] or 60)
    return settings


def _call(settings, method, path, login, body=None):
    """(status, JSON body) of one request to Grafana as ``login`` (a (user, password) pair)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(settings["url"].rstrip("/") + path, data=data, method=method)
    token = base64.b64encode(f"{login[0]}:{login[1]}".encode()).decode()
    request.add_header("Authorization", f"Basic {token}")
    request.add_header("Accept", "application/json")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            status, text = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, text = error.code, error.read()
    try:
        return status, json.loads(text or b"null")
    except ValueError:
        return status, None


def _expect(result, *statuses, what):
    status, body = result
    if status not in statuses:
        message = body.get("message") if isinstance(body, dict) else None
        raise GrafanaError(f"{what}: HTTP {status}" + (f" ({message})" if message else ""))
    return body


def reconcile_once(settings):
    """Makes the user exist, log in with the password and hold ROLE in the org; returns what it changed."""
    admin = (settings["admin_user"], settings["admin_password"])
    user, org = settings["user"], settings["org"]
    changed = []
    query = urllib.parse.urlencode({"loginOrEmail": user})
    found = _call(settings, "GET", f"/api/users/lookup?{query}", admin)
    if found[0] == 404:
        # Grafana puts a new user in its auto_assign_org (org 1, Viewer, by default): the role is set below.
        body = {"name": "Flux annotations", "login": user, "password": settings["password"]}
        created = _expect(_call(settings, "POST", "/api/admin/users", admin, body), 200, what=f"creating {user}")
        user_id = created["id"]
        changed.append("created")
    else:
        user_id = _expect(found, 200, what=f"looking up {user}")["id"]
    orgs = _expect(_call(settings, "GET", f"/api/users/{user_id}/orgs", admin), 200, what=f"reading {user}'s orgs")
    role = next((o.get("role") for o in orgs if o.get("orgId") == org), None)
    if role is None:
        body = {"loginOrEmail": user, "role": ROLE}
        _expect(_call(settings, "POST", f"/api/orgs/{org}/users", admin, body), 200, what=f"adding {user} to org {org}")
        changed.append(f"added to org {org} as {ROLE}")
    elif role != ROLE:
        body = {"role": ROLE}
        _expect(_call(settings, "PATCH", f"/api/orgs/{org}/users/{user_id}", admin, body), 200, what=f"role of {user}")
        changed.append(f"role {role} -> {ROLE}")
    login = (user, settings["password"])
    if _call(settings, "GET", "/api/user", login)[0] == 401:
        body = {"password": settings["password"]}
        path = f"/api/admin/users/{user_id}/password"
        _expect(_call(settings, "PUT", path, admin, body), 200, what=f"setting {user}'s password")
        changed.append("password set")
    _expect(_call(settings, "GET", "/api/user", login), 200, what=f"logging in as {user}")
    return changed


def _mark(path, ready):
    if ready:
        with open(path, "w") as marker:
            marker.write("ready\n")
    elif os.path.exists(path):
        os.remove(path)


def reconcile(settings):
    """Reconciles every interval, for ever; Grafana not answering yet is one more retry."""
    while True:
        try:
            changed = reconcile_once(settings)
        except (GrafanaError, OSError) as error:
            _mark(settings["ready_file"], False)
            print(f"{settings['user']}: {error}; retrying in {settings['interval']:g}s", flush=True)
        else:
            _mark(settings["ready_file"], True)
            if changed:
                print(f"{settings['user']}: {', '.join(changed)}", flush=True)
        time.sleep(settings["interval"])


def main():
    reconcile(_settings())


if __name__ == "__main__":
    main()
