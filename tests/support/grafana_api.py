"""A stand-in for Grafana's user HTTP API on 127.0.0.1, for the program that keeps Flux's user.

No Grafana can run here. This answers the requests in_pod/grafana_flux_user.py makes as Grafana's
handlers do, modelled on grafana/grafana pkg/api (not on the program): basic auth against the users
it holds (401 for a wrong password, counted as a failed login); the admin routes only for a server
admin (403 otherwise); GET /api/users/lookup 404 "user not found"; POST /api/admin/users 400 for a
password shorter than 4, 412 when the login exists, else 200 {"id", "message": "User created"}, the
user put in org 1 as Viewer (auto_assign_org, auto_assign_org_role defaults); PUT
/api/admin/users/:id/password; GET /api/users/:id/orgs [{"orgId", "name", "role"}]; POST
/api/orgs/:orgId/users 409 for a member; PATCH /api/orgs/:orgId/users/:userId; GET /api/user.
``requests`` keeps each (method, path, login) for the tests to read.
"""

from __future__ import annotations

import base64
import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlsplit

from tests.support.loopback import serve_on_loopback

MAIN_ORG = 1


@dataclass
class User:
    login: str
    password: str
    orgs: dict[int, str] = field(default_factory=lambda: {MAIN_ORG: "Viewer"})
    admin: bool = False


@dataclass
class GrafanaUsers:
    """Grafana's users by id; id 1 is the server admin Grafana creates on its first start."""

    users: dict[int, User] = field(default_factory=dict)
    requests: list[tuple[str, str, str]] = field(default_factory=list)
    failed_logins: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def with_admin(cls, login: str, password: str) -> GrafanaUsers:
        return cls(users={1: User(login, password, {MAIN_ORG: "Admin"}, admin=True)})

    def by_login(self, login: str) -> tuple[int, User] | None:
        return next(((i, u) for i, u in self.users.items() if u.login == login), None)

    def writes(self) -> list[tuple[str, str]]:
        return [(method, path) for method, path, _ in self.requests if method != "GET"]


def _authenticated(users: GrafanaUsers, header: str | None) -> User | None:
    if not header or not header.startswith("Basic "):
        return None
    login, _, password = base64.b64decode(header[6:]).decode().partition(":")
    found = users.by_login(login)
    if found is None or found[1].password != password:
        users.failed_logins.append(login)
        return None
    return found[1]


def _answer(users: GrafanaUsers, method: str, url: str, caller: User, body: dict | None) -> tuple[int, object]:
    path, query = urlsplit(url).path, parse_qs(urlsplit(url).query)
    if method == "GET" and path == "/api/user":
        return 200, {"login": caller.login, "isGrafanaAdmin": caller.admin}
    if not caller.admin:
        return 403, {"message": "Permission denied"}
    if method == "GET" and path == "/api/users/lookup":
        found = users.by_login(query.get("loginOrEmail", [""])[0])
        return (
            (404, {"message": "user not found"}) if found is None else (200, {"id": found[0], "login": found[1].login})
        )
    if method == "POST" and path == "/api/admin/users":
        if len(body.get("password", "")) < 4:
            return 400, {"message": "Password is missing or too short"}
        if users.by_login(body["login"]) is not None:
            return 412, {"message": f"User with email '' or username '{body['login']}' already exists"}
        new_id = max(users.users) + 1
        users.users[new_id] = User(body["login"], body["password"])
        return 200, {"id": new_id, "message": "User created"}
    if match := re.fullmatch(r"/api/admin/users/(\d+)/password", path):
        if method != "PUT" or int(match[1]) not in users.users:
            return 404, {"message": "Not found"}
        users.users[int(match[1])].password = body["password"]
        return 200, {"message": "User password updated"}
    if match := re.fullmatch(r"/api/users/(\d+)/orgs", path):
        user = users.users.get(int(match[1]))
        if user is None:
            return 404, {"message": "user not found"}
        return 200, [{"orgId": org, "name": "Main Org.", "role": role} for org, role in user.orgs.items()]
    if method == "POST" and (match := re.fullmatch(r"/api/orgs/(\d+)/users", path)):
        found = users.by_login(body["loginOrEmail"])
        if found is None:
            return 404, {"message": "User not found"}
        if int(match[1]) in found[1].orgs:
            return 409, {"message": "User is already member of this organization"}
        found[1].orgs[int(match[1])] = body["role"]
        return 200, {"message": "User added to organization", "userId": found[0]}
    if method == "PATCH" and (match := re.fullmatch(r"/api/orgs/(\d+)/users/(\d+)", path)):
        user = users.users.get(int(match[2]))
        if user is None or int(match[1]) not in user.orgs:
            return 404, {"message": "User not found"}
        user.orgs[int(match[1])] = body["role"]
        return 200, {"message": "Organization user updated"}
    return 404, {"message": "Not found"}


@contextmanager
def serve_grafana(users: GrafanaUsers, port: int = 0) -> Iterator[str]:
    """Serves ``users`` on 127.0.0.1 at ``port`` (default an ephemeral one); yields the base URL; stopped after."""

    class Handler(BaseHTTPRequestHandler):
        def _handle(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else None
            with users.lock:
                caller = _authenticated(users, self.headers.get("Authorization"))
                users.requests.append((method, self.path, caller.login if caller else ""))
                status, answer = (
                    (401, {"message": "Invalid username or password"})
                    if caller is None
                    else _answer(users, method, self.path, caller, body)
                )
            payload = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def do_GET(self):
            self._handle("GET")

        def do_POST(self):
            self._handle("POST")

        def do_PUT(self):
            self._handle("PUT")

        def do_PATCH(self):
            self._handle("PATCH")

        def log_message(self, *args):
            pass

    with serve_on_loopback(Handler, port) as bound:
        yield f"http://127.0.0.1:{bound}"
