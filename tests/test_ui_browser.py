"""The Dagster UI in a real browser: `dagster dev` on loopback, Debian's Chromium via Playwright.

A user opens the asset lineage, sees every asset in its group, launches `build_datasets_job` from
the job page and watches the run reach "Success"; the dataset version must then be on disk.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib.util import find_spec
from pathlib import Path

import pytest

from tests.consumers import DEV_EXTRA, missing

if find_spec("playwright") is not None:
    from playwright.sync_api import Browser, Locator, Page, Route, expect, sync_playwright
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError


pytestmark = pytest.mark.slow

REPO_ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    # Belt to the route filter's braces: the browser resolves no host name but loopback.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]
# Wide enough that the fitted graph draws full asset nodes; narrower, it draws minimal ones whose
# names are middle-truncated ("comple…_quarantine").
VIEWPORT = {"width": 1920, "height": 1200}

ASSETS = (
    "raw_completions",
    "completions",
    "completions_quarantine",
    "curated_default",
    "dataset_default",
)
GROUPS = ("ingestion", "curation", "export")

SERVER_START_TIMEOUT_S = 120
UI_TIMEOUT_MS = 60_000
RUN_TIMEOUT_S = 300
STOP_GRACE_S = 20
MIN_SCREENSHOT_BYTES = 20_000

TERMINAL_TITLE = re.compile(r"\[(SUCCESS|FAILURE|CANCELED)\]")


@dataclass
class DagsterUI:
    """A running `dagster dev`: its root URL, the data dir its runs write, and its log."""

    url: str
    data_dir: Path
    log_path: Path
    blocked_urls: list[str] = field(default_factory=list)

    def log_tail(self, lines: int = 60) -> str:
        text = self.log_path.read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])


@pytest.fixture(scope="module", autouse=True)
def browser_requirements() -> None:
    """Fail under CI (which must install them) and skip elsewhere when a requirement is missing."""
    if not CHROMIUM.exists():
        missing(f"Chromium at {CHROMIUM}", "bash .ci/install-browser.sh")
    if find_spec("playwright") is None:
        missing("the playwright package", DEV_EXTRA)


@pytest.fixture(scope="module")
def dagster_ui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DagsterUI]:
    """`dagster dev` from the repo root in its own process group, on a free loopback port."""
    root = tmp_path_factory.mktemp("dagster_ui")
    dagster_home = root / "dagster_home"
    dagster_home.mkdir()
    port = free_port()
    ui = DagsterUI(
        url=f"http://127.0.0.1:{port}",
        data_dir=root / "distillery-data",
        log_path=root / "dagster-dev.log",
    )
    # A developer's credentials, source or recipes file must not change what the UI shows.
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("OPENAI_", "AZURE_OPENAI_", "DISTILLERY_"))
    }
    env["DAGSTER_HOME"] = str(dagster_home)
    env["DISTILLERY_DATA_DIR"] = str(ui.data_dir)
    # Dagster uploads usage logs to dagster.io; nothing here may leave the machine.
    env["DAGSTER_DISABLE_TELEMETRY"] = "1"
    command = [
        str(Path(sys.executable).parent / "dagster"),
        "dev",
        "-w",
        "workspace.yaml",
        "-h",
        "127.0.0.1",
        "-p",
        str(port),
    ]
    with ui.log_path.open("w", encoding="utf-8") as log:
        process = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_for_webserver(ui, process)
        yield ui
    finally:
        stop_process_group(process)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    expect.set_options(timeout=UI_TIMEOUT_MS)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser, dagster_ui: DagsterUI) -> Iterator[Page]:
    """A fresh browser context that reaches the webserver and nothing else."""
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(UI_TIMEOUT_MS)

    # The UI loads a telemetry script from dagster.io; CI has no internet, and a test sends no
    # traffic off the machine.
    def only_the_webserver(route: Route) -> None:
        if route.request.url.startswith(dagster_ui.url + "/"):
            route.continue_()
        else:
            dagster_ui.blocked_urls.append(route.request.url)
            route.abort()

    context.route("**/*", only_the_webserver)
    page = context.new_page()
    # A fresh DAGSTER_HOME shows the "Join the Dagster community" dialog once, over whatever page
    # is open; a user skips it.
    skip = page.get_by_role("button", name="Skip", exact=True)
    page.add_locator_handler(skip, lambda: skip.click())
    yield page
    context.close()


@pytest.mark.timeout(SERVER_START_TIMEOUT_S + 180)
def test_asset_lineage_shows_every_asset_in_its_group(
    page: Page, dagster_ui: DagsterUI, tmp_path: Path
) -> None:
    with diagnostics_on_failure(page, dagster_ui):
        page.goto(f"{dagster_ui.url}/asset-groups")
        expect(page.get_by_text("Global asset lineage", exact=True)).to_be_visible()
        graph = page.locator("[data-svg-viewport]")
        for group in GROUPS:
            expect(graph.get_by_text(group, exact=True)).to_be_visible()

        expand_all_groups(page, graph)

        for name in (*ASSETS, *GROUPS):
            expect(graph.get_by_text(name, exact=True)).to_be_visible()
        shot = screenshot(page, tmp_path / "asset-lineage.png")
        print(f"asset lineage screenshot: {shot}")


@pytest.mark.timeout(SERVER_START_TIMEOUT_S + RUN_TIMEOUT_S + 180)
def test_materialize_all_on_the_job_page_publishes_a_dataset_version(
    page: Page, dagster_ui: DagsterUI, tmp_path: Path
) -> None:
    with diagnostics_on_failure(page, dagster_ui):
        page.goto(f"{dagster_ui.url}/jobs")
        # Links and buttons are named with their icon first: "job build_datasets_job info".
        page.get_by_role("link", name=re.compile(r"\bbuild_datasets_job\b")).click()
        expect(page).to_have_url(re.compile(r"/jobs/build_datasets_job$"))
        page.get_by_role("button", name=re.compile(r"Materialize all$")).click()

        # The toast that confirms the launch links to the run.
        toast = page.get_by_role("region", name=re.compile(r"^Notifications"))
        expect(toast.get_by_text(re.compile(r"^Launched run [0-9a-f]{8}$"))).to_be_visible()
        toast.get_by_role("link", name="View", exact=True).click()
        expect(page).to_have_url(re.compile(r"/runs/[0-9a-f-]{36}$"))
        wait_for_run_to_finish(page)

        expect(page).to_have_title(re.compile(r"build_datasets_job .*\[SUCCESS\]"))
        expect(page.get_by_role("img", name="run_success").first).to_be_visible()
        expect(page.get_by_text("Success", exact=True).first).to_be_visible()
        shot = screenshot(page, tmp_path / "finished-run.png")
        print(f"finished run screenshot: {shot}")

    artifacts = dagster_ui.data_dir / "artifacts" / "default"
    latest = artifacts / "LATEST"
    assert latest.is_file(), (
        f"no {latest}; the data dir holds {sorted(dagster_ui.data_dir.rglob('*'))}"
    )
    version = latest.read_text().strip()
    manifest_path = artifacts / version / "manifest.json"
    assert manifest_path.is_file(), f"LATEST names {version!r}, which has no manifest.json"
    manifest = json.loads(manifest_path.read_text())
    assert manifest["source"]["kind"] == "local"
    assert manifest["splits"]["train"]["rows"] >= 10


def expand_all_groups(page: Page, graph: Locator) -> None:
    """Press ⌥E, the shortcut the graph's "Expand all groups" menu item names.

    Groups open collapsed in a fresh browser. The press is repeated only if the first was lost
    (pressed before the graph bound its shortcut); it toggles, so never press on an open graph.
    """
    first_asset = graph.get_by_text(ASSETS[0], exact=True)
    for _ in range(3):
        if first_asset.is_visible():
            return
        page.keyboard.press("Alt+e")
        try:
            first_asset.wait_for(state="visible", timeout=10_000)
        except PlaywrightTimeoutError:
            continue


def wait_for_run_to_finish(page: Page) -> None:
    """Wait for the run page's title to show a final status, reloading if live updates stall."""
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while True:
        try:
            expect(page).to_have_title(TERMINAL_TITLE, timeout=30_000)
            return
        except AssertionError:
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"the run did not finish within {RUN_TIMEOUT_S} s; title {page.title()!r}"
                ) from None
            page.reload()


def screenshot(page: Page, path: Path) -> Path:
    page.screenshot(path=path, full_page=True)
    data = path.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n"), f"{path} is not a PNG"
    assert len(data) > MIN_SCREENSHOT_BYTES, f"{path} is only {len(data)} bytes"
    return path


@contextmanager
def diagnostics_on_failure(page: Page, ui: DagsterUI) -> Iterator[None]:
    """On failure, print the page URL and text, blocked requests and the dagster dev log tail."""
    try:
        yield
    except BaseException:
        print(f"\n--- page URL: {page.url}")
        try:
            print(f"--- page text:\n{page.inner_text('body', timeout=5_000)[:3000]}")
        except Exception as error:
            print(f"--- page text unavailable: {error}")
        print(f"--- requests blocked off the machine: {ui.blocked_urls}")
        print(f"--- dagster dev log ({ui.log_path}), last lines:\n{ui.log_tail()}")
        raise


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_webserver(ui: DagsterUI, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"dagster dev exited with {process.returncode}:\n{ui.log_tail()}")
        try:
            with urllib.request.urlopen(f"{ui.url}/server_info", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"dagster dev did not answer in {SERVER_START_TIMEOUT_S} s:\n{ui.log_tail()}")


def stop_process_group(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the whole group, then SIGKILL whatever is left after the grace period.

    `dagster dev` runs a webserver, a daemon, code servers and run workers; start_new_session made
    its pid the group id, so they are addressed by that pid and nothing else.
    """
    group = process.pid
    signal_group(group, signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_S
    while time.monotonic() < deadline:
        process.poll()  # reap the leader, or the group stays alive as a zombie
        if not signal_group(group, 0):
            break
        time.sleep(0.2)
    signal_group(group, signal.SIGKILL)
    process.wait(timeout=30)


def signal_group(group: int, signum: int) -> bool:
    """Send `signum` to the group; False when no process is left in it."""
    try:
        os.killpg(group, signum)
    except ProcessLookupError:
        return False
    return True
