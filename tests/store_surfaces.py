"""The store as the SDK-model tests meet it: the routes its app has, and each API root (a
"surface") with raw HTTP and the real SDK client for it."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openai
from starlette.applications import Starlette
from starlette.routing import Mount

from pipelines.store import StoreDatabase
from pipelines.store.app import create_app
from pipelines.store.capture import CaptureSettings, Proxy
from pipelines.store.capture.upstream import Upstream
from tests.conftest import AZURE_API_VERSION, STORE_KEY
from tests.sdk_models import Findings
from tests.store_process import StoreProcess

# -- the routes, from the app ------------------------------------------------------------------


def served_routes(tmp_path: Path) -> set[tuple[str, str, str]]:
    """(mount, method, path) of every route of the app as `serve --test-controls --upstream`
    builds it: the most routes it ever has."""
    upstream = Upstream(base_url="http://127.0.0.1:9/v1", flavour="openai")
    db = StoreDatabase(tmp_path / "routes.db")
    proxy = Proxy(CaptureSettings(upstream=upstream), tmp_path / "routes.db")
    try:
        app: Any = create_app(db, test_controls=True, proxy=proxy)
    finally:
        proxy.close()
        db.close()
    while not isinstance(app, Starlette):  # the fault injector, the guards, then the app
        app = app.app
    found = set()
    for route in app.routes:
        mount, children = (route.path, route.routes) if isinstance(route, Mount) else ("", [route])
        for child in children:
            for method in sorted(set(child.methods or ()) - {"HEAD"}):
                found.add((mount, method, child.path))
    return found


# -- the surfaces: an API root and the SDK client that speaks to it ------------------------------


@dataclass
class Surface:
    """One API root of the running store, the raw HTTP to it and the SDK clients for it."""

    store: StoreProcess
    mount: str
    findings: Findings

    def client(self, *, strict: bool = True, **options: Any) -> openai.OpenAI:
        """The SDK client; `strict` turns on the SDK's own validation of every answer."""
        common = {"api_key": STORE_KEY, "max_retries": 0, "_strict_response_validation": strict}
        if self.mount == "/openai":
            return openai.AzureOpenAI(
                azure_endpoint=self.store.url, api_version=AZURE_API_VERSION, **common, **options
            )
        return openai.OpenAI(base_url=self.store.url + self.mount, **common, **options)

    def http(self, method: str, path: str, body: Any = None, **query: Any) -> tuple[int, Any]:
        """Send one request to `path` under this root; return the status and the JSON answer."""
        if self.mount == "/openai":
            query["api-version"] = AZURE_API_VERSION
        url = self.store.url + self.mount + path
        if query:
            url += "?" + "&".join(f"{k}={v}" for k, v in query.items())
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(url, data=data, method=method)
        request.add_header("Authorization", f"Bearer {STORE_KEY}")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                return answer.status, json.loads(answer.read())
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read())

    def get(self, path: str, **query: Any) -> Any:
        status, answer = self.http("GET", path, **query)
        assert status == 200, (self.mount, path, answer)
        return answer

    def pages(self, path: str, **query: Any) -> Iterator[Any]:
        """Every page of a list, raw, following `after` as the SDK does."""
        after = None
        while True:
            page = self.get(path, limit=100, **query, **({"after": after} if after else {}))
            yield page
            if not page["has_more"] or not page["data"]:
                return
            after = page["data"][-1]["id"]

    def sdk(
        self, owner: str, where: str, call: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> Any:
        """Make one SDK call; a validation error of the SDK's own counts against `owner`."""
        try:
            return call(*args, **kwargs)
        except openai.APIResponseValidationError as err:
            self.findings.fail(owner, f"{where} (SDK)", str(err.__cause__ or err)[:300])
            return None
