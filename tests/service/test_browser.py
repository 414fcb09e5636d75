"""The staff service in a real browser: the system's headless Chromium driven by Playwright
(never a downloaded browser), against the service on loopback."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn

from pipelines.report import chromium
from tests.service.conftest import PASSWORD, Env

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("report")]
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture()
def server(env: Env) -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    srv = uvicorn.Server(
        uvicorn.Config(
            env.app,
            host="127.0.0.1",
            port=port,
            access_log=False,
            log_level="warning",
            lifespan="off",
        )
    )
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert srv.started, "the service did not start"
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=10)


def test_log_in_search_open_a_report_and_be_refused_another_county(env: Env, server: str) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium(), args=FLAGS)
        try:
            page = browser.new_page()
            page.goto(f"{server}/enterprise/{env.inside}")  # not logged in: to the login page
            assert "/login" in page.url
            page.fill("#username", "county")
            page.fill("#password", PASSWORD)
            page.click("#login")
            page.wait_for_url(f"{server}/enterprise/{env.inside}")  # back where it was going
            assert page.locator("#watermark").count() == 1
            assert "内部参考" in page.content()
            page.goto(f"{server}/")
            page.fill("#q", env.inside)
            page.click("#go")
            page.wait_for_selector("#results")
            page.click(f"a[href^='/enterprise/{env.inside}']")
            page.wait_for_load_state()
            assert "/enterprise/" in page.url and page.locator("#watermark").count() == 1
            shot = page.screenshot(full_page=True)
            assert len(shot) > 10_000  # a rendered page, not a blank one
            response = page.goto(f"{server}/enterprise/{env.outside}")
            # the same answer as for an enterprise that does not exist
            assert response is not None and response.status == 404
            assert page.locator("#status").inner_text() == "404"
            assert env.outside not in page.content()
        finally:
            browser.close()
