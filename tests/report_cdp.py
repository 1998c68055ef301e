"""A minimal DevTools-protocol client over Chromium's ``--remote-debugging-pipe`` (no websocket library).

Chromium reads JSON commands, each ended by a NUL byte, from file descriptor 3 and writes replies and
events the same way to descriptor 4. :class:`Browser` starts headless Chromium with a fresh profile,
opens one page, and records every network request, console message, log entry and uncaught exception
the page causes, so a test can assert there were none. The process is stopped by its PID.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Browser", "PageRecord", "chromium_path"]

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-default-apps", "--disable-extensions", "--mute-audio", "--remote-debugging-pipe")


def chromium_path() -> str | None:
    for name in ("/usr/bin/chromium", "chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


@dataclass
class PageRecord:
    requests: list[str] = field(default_factory=list)  # every URL the page asked for (the page itself too)
    console_errors: list[str] = field(default_factory=list)  # console.error/warn, log errors, exceptions
    dialogs: list[str] = field(default_factory=list)  # alert()/confirm()/prompt() the page opened
    blocked: dict[str, str] = field(default_factory=dict)  # URL -> why the browser refused it (e.g. "csp")
    loaded: bool = False


class Browser:
    def __init__(self, binary: str, timeout: float = 30.0) -> None:
        self._profile = tempfile.mkdtemp(prefix="redisguard-chromium-")
        to_child_r, self._to_child = _high(os.pipe())
        self._from_child, from_child_w = _high(os.pipe())
        # The child's fd 3 is what we write to, its fd 4 is what we read: bash moves the pipe ends there and
        # execs Chromium (same PID), which avoids a preexec_fn.
        self.process = subprocess.Popen(
            ["/bin/bash", "-c", f'exec "$0" "$@" 3<&{to_child_r} 4>&{from_child_w} {to_child_r}<&- {from_child_w}>&-',
             binary, *FLAGS, f"--user-data-dir={self._profile}", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            pass_fds=(to_child_r, from_child_w), start_new_session=True,
        )
        os.close(to_child_r)
        os.close(from_child_w)
        self._timeout = timeout
        self._next_id = 0
        self._buffer = b""
        self._events: list[dict[str, Any]] = []
        self.session: str | None = None

    # -- protocol ------------------------------------------------------------------------------------
    def _read_message(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no reply from chromium")
            ready, _, _ = select.select([self._from_child], [], [], left)
            if ready:
                chunk = os.read(self._from_child, 1 << 20)
                if not chunk:
                    raise ConnectionError("chromium closed the DevTools pipe")
                self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        message: dict[str, Any] = json.loads(raw)
        return message

    def send(self, method: str, params: dict[str, Any] | None = None, *, session: bool = True) -> dict[str, Any]:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session and self.session is not None:
            message["sessionId"] = self.session
        os.write(self._to_child, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + self._timeout
        while True:
            reply = self._read_message(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                result: dict[str, Any] = reply.get("result", {})
                return result
            if "method" in reply:
                self._events.append(reply)

    def pump(self, seconds: float) -> None:
        """Collect events for a while (requests and errors that arrive after the load)."""
        deadline = time.monotonic() + seconds
        while True:
            try:
                self._events.append(self._read_message(deadline))
            except TimeoutError:
                return

    # -- a page --------------------------------------------------------------------------------------
    def open(self, url: str, width: int, height: int, mobile: bool = False) -> PageRecord:
        target = self.send("Target.createTarget", {"url": "about:blank"}, session=False)["targetId"]
        self.session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True},
                                 session=False)["sessionId"]
        for domain in ("Page", "Network", "Runtime", "Log"):
            self.send(f"{domain}.enable")
        self.send("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile})
        self._events.clear()
        self.send("Page.navigate", {"url": url})
        record = PageRecord()
        deadline = time.monotonic() + self._timeout
        while not any(event.get("method") == "Page.loadEventFired" for event in self._events):
            if time.monotonic() > deadline:
                break
            self._events.append(self._read_message(deadline))
        self.pump(1.0)
        record.loaded = any(event.get("method") == "Page.loadEventFired" for event in self._events)
        urls: dict[str, str] = {}
        for event in self._events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Network.requestWillBeSent":
                record.requests.append(params["request"]["url"])
                urls[params["requestId"]] = params["request"]["url"]
            elif method == "Network.loadingFailed" and params.get("blockedReason"):
                record.blocked[urls.get(params["requestId"], "?")] = params["blockedReason"]
            elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "warning", "assert"):
                record.console_errors.append(json.dumps(params.get("args")))
            elif method == "Runtime.exceptionThrown":
                record.console_errors.append(json.dumps(params.get("exceptionDetails")))
            elif method == "Log.entryAdded" and params["entry"].get("level") in ("error", "warning"):
                record.console_errors.append(params["entry"].get("text", ""))
            elif method == "Page.javascriptDialogOpening":  # alert(1) from an injected script would land here
                record.dialogs.append(params.get("message", ""))
        return record

    def evaluate(self, expression: str) -> Any:
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                                "awaitPromise": True, "userGesture": True})
        if "exceptionDetails" in result:
            raise RuntimeError(json.dumps(result["exceptionDetails"]))
        return result["result"].get("value")

    def page_height(self) -> int:
        return int(self.evaluate("document.documentElement.scrollHeight"))

    def screenshot(self, path: Path, width: int, top: int = 0, height: int | None = None) -> None:
        """The page from ``top`` down (to its end by default), at the emulated width."""
        height = self.page_height() - top if height is None else height
        data = self.send("Page.captureScreenshot", {
            "format": "png", "captureBeyondViewport": True,
            "clip": {"x": 0, "y": top, "width": width, "height": height, "scale": 1}})["data"]
        path.write_bytes(base64.b64decode(data))

    def close(self) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        # Chromium's helpers (renderer, zygote, crashpad) outlive the browser process for a moment and keep
        # writing into the profile: stop the whole process group we started (start_new_session made the
        # browser its leader), wait until it is empty, then remove the profile.
        _stop_group(self.process.pid)
        os.close(self._to_child)
        os.close(self._from_child)
        for attempt in range(20):
            try:
                shutil.rmtree(self._profile)
                break
            except FileNotFoundError:
                break
            except OSError:
                if attempt == 19:
                    raise
                time.sleep(0.25)

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _stop_group(pgid: int, timeout: float = 10.0) -> None:
    """SIGKILL what is left of the process group ``pgid`` (ours: the browser we started leads it), then
    wait until no process of it remains."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)


def _high(pair: tuple[int, int]) -> tuple[int, int]:
    """The pipe's ends moved to descriptors >= 10, so the child's 3 and 4 can be set without clobbering."""
    moved = tuple(fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in pair)
    for fd in pair:
        os.close(fd)
    return moved[0], moved[1]
