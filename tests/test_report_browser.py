"""The report in a real browser: headless Chromium opens it from a file:// URL, at a desktop and a phone
size, with no console error, no dialog (no injected script ran) and no network request but the file itself
(all seen through the DevTools protocol), and saves a full-page PNG screenshot of each.

Screenshots (``report-desktop.png``, ``report-phone.png``, ``report-print.png`` with the print stylesheet) go to
``$REDISGUARD_SCREENSHOTS`` (default: this test's temporary directory).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from tests.report_cdp import Browser, chromium_path
from tests.test_report_html import SCRIPT_KEY, load_hostile, run_cli

from redisguard.localserver import LocalServer

CHROMIUM = chromium_path()
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (Debian package chromium)")

VIEWPORTS = {"desktop": (1280, 900, False), "phone": (390, 844, True)}

_CLICK_COPY = """new Promise(function (resolve) {
  var button = document.querySelector("button.copy");
  button.click();
  window.setTimeout(function () { resolve(button.textContent); }, 400);
})"""


@pytest.fixture
def report_file(make_server, tmp_path: Path) -> Path:
    server: LocalServer = make_server(maxmemory="40mb", maxmemory_policy="noeviction")
    with server.client() as client:
        load_hostile(client)
        for index in range(3000):
            client.set(f"user:{index}:profile", "p" * 200)
    out = tmp_path / "report.html"
    result = run_cli("report", server.url, "-o", str(out), "--keys", "--budget", "10")
    assert result.returncode in (1, 2), result.stderr
    return out


@pytest.mark.parametrize("viewport", sorted(VIEWPORTS))
def test_report_opens_offline_in_chromium(report_file: Path, viewport: str, tmp_path: Path) -> None:
    assert CHROMIUM is not None
    width, height, mobile = VIEWPORTS[viewport]
    url = report_file.resolve().as_uri()
    shots = Path(os.environ.get("REDISGUARD_SCREENSHOTS", str(tmp_path)))
    shots.mkdir(parents=True, exist_ok=True)
    with Browser(CHROMIUM) as browser:
        page = browser.open(url, width, height, mobile=mobile)
        assert page.loaded
        assert page.requests == [url]  # the file itself, and nothing else (not even attempted and blocked)
        assert page.console_errors == []  # a CSP violation (a blocked style or script) would be one
        assert page.dialogs == []
        assert browser.evaluate("document.scripts.length") == 1
        assert browser.evaluate("document.images.length") == 0
        assert browser.evaluate(f"document.body.innerText.includes({SCRIPT_KEY!r})")  # the key, shown as text
        assert browser.evaluate("document.styleSheets[0].cssRules.length") > 20  # the stylesheet was applied
        assert browser.evaluate(_CLICK_COPY) in ("Copied", "Select it and copy")  # the script runs
        # Nothing wider than the viewport but the tables' own scroll boxes.
        assert browser.evaluate("document.documentElement.scrollWidth") <= width
        path = shots / f"report-{viewport}.png"
        browser.screenshot(path, width)
        if not mobile:  # the print stylesheet: no buttons on paper, charts at the page's width
            browser.send("Emulation.setEmulatedMedia", {"media": "print"})
            assert browser.evaluate('getComputedStyle(document.querySelector("button.copy")).display') == "none"
            browser.screenshot(shots / "report-print.png", width)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 10_000
    assert browser.process.poll() is not None  # the browser we started is gone


def test_the_browser_checks_see_a_request_and_a_blocked_one(tmp_path: Path) -> None:
    """Control: the harness does record a request, and the report's CSP does block one (a console error)."""
    assert CHROMIUM is not None
    from redisguard.render.html import content_security_policy

    leaky = tmp_path / "leaky.html"
    leaky.write_text('<!DOCTYPE html><html><body><img src="http://127.0.0.1:9/x.png"></body></html>')
    guarded = tmp_path / "guarded.html"
    guarded.write_text(f'<!DOCTYPE html><html><head><meta http-equiv="Content-Security-Policy" '
                       f'content="{content_security_policy()}"></head><body><img src="http://127.0.0.1:9/y.png">'
                       "<script>alert(1)</script></body></html>")
    with Browser(CHROMIUM) as browser:
        page = browser.open(leaky.as_uri(), 800, 600)
    assert "http://127.0.0.1:9/x.png" in page.requests
    with Browser(CHROMIUM) as browser:
        page = browser.open(guarded.as_uri(), 800, 600)
    assert page.blocked == {"http://127.0.0.1:9/y.png": "csp"}  # attempted, and refused by the policy
    assert any("Content Security Policy" in text for text in page.console_errors), page.console_errors
    assert page.dialogs == []
