"""The virtual users of the load test, for Locust. bench/load/run.py starts
`locust --headless -f bench/load/locustfile.py` against its gunicorn and reads the CSV it writes;
what the users need (their logins, tokens, the pages and endpoints to pick from) comes in
AGENCY_LOAD_CONFIG, a JSON file written by run.py.

Half the users sign in through the login form (CSRF token, session cookie) and browse the
dashboard pages; the other half call the API with a token. Each picks its next request at random
from its list and waits `think_ms` on average (uniform 0.5x to 1.5x). GET /healthz is in both
lists: the baseline, measured under the same load. Requests are sent as a browser behind the
TLS proxy sends them (X-Forwarded-Proto: https), so production's SSL redirect, secure cookies and
CSRF origin checks are all on; anything but a 200 (a redirect to the login page included) counts
as a failure.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import re

from locust import HttpUser, events, task
from locust.exception import StopUser

CONFIG = json.loads(open(os.environ["AGENCY_LOAD_CONFIG"]).read())  # noqa: SIM115
THINK_SECONDS = CONFIG["think_ms"] / 1000
_page_users = itertools.count(0, 2)  # users 0, 2, 4... sign in; 1, 3, 5... have tokens
_api_users = itertools.count(1, 2)


_environment = None


@events.init.add_listener
def _keep_environment(environment, **_kwargs) -> None:
    global _environment
    _environment = environment


@events.spawning_complete.add_listener
def _measure_after_warm_up(user_count: int, **_kwargs) -> None:
    # Logins and cold caches are left out: the figures start after the warm-up.
    import gevent

    gevent.spawn_later(CONFIG["warmup"], _environment.stats.reset_all)


class _AgencyUser(HttpUser):
    abstract = True
    routes: dict[str, str] = {}

    def wait_time(self) -> float:
        return THINK_SECONDS * self.chooser.uniform(0.5, 1.5)

    def on_start(self) -> None:
        self.chooser = random.Random(self.number)
        self.origin = f"https://{CONFIG['host']}"
        self.client.headers.update({"X-Forwarded-Proto": "https"})
        self.cookies: dict[str, str] = {}

    def get(self, name: str, path: str, **kwargs):
        headers = dict(kwargs.pop("headers", {}))
        if self.cookies:
            # Secure cookies: a browser behind the TLS proxy sends them; requests would not send
            # them over the loopback's plain HTTP, so they are sent by hand.
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        return self.client.get(
            path, name=name, headers=headers, allow_redirects=False, catch_response=True, **kwargs
        )

    @task
    def browse(self) -> None:
        name = self.chooser.choice(sorted(self.routes))
        with self.get(name, self.routes[name]) as response:
            if response.status_code != 200:
                response.failure(f"HTTP {response.status_code}")


class PageUser(_AgencyUser):
    """A manager in the browser, signed in through the login form."""

    routes = CONFIG["pages"]

    def on_start(self) -> None:
        self.number = next(_page_users)
        super().on_start()
        with self.get("login form", "/auth/login/") as page:
            match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
            self._remember(page)
            if page.status_code != 200 or not match:
                page.failure(f"login page: HTTP {page.status_code}")
                raise StopUser()
        headers = {"Origin": self.origin, "Referer": f"{self.origin}/auth/login/"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        with self.client.post(
            "/auth/login/",
            name="login",
            data={
                "csrfmiddlewaretoken": match.group(1),
                "username": CONFIG["users"][self.number],
                "password": CONFIG["password"],
                "next": "/",
            },
            headers=headers,
            allow_redirects=False,
            catch_response=True,
        ) as response:
            self._remember(response)
            if response.status_code != 302 or "sessionid" not in self.cookies:
                response.failure(f"login failed: HTTP {response.status_code}")
                raise StopUser()

    def _remember(self, response) -> None:
        for header in response.raw.headers.getlist("Set-Cookie"):
            name, _, rest = header.partition("=")
            self.cookies[name.strip()] = rest.split(";", 1)[0]


class ApiUser(_AgencyUser):
    """An integration with an API token."""

    routes = CONFIG["api"]

    def on_start(self) -> None:
        self.number = next(_api_users)
        super().on_start()
        self.client.headers.update(
            {
                "Authorization": f"Token {CONFIG['tokens'][self.number]}",
                "Accept": "application/json",
            }
        )
