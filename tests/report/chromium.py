"""Load a page in headless Chromium over the DevTools protocol, with the standard library only.

Chromium is started with ``--remote-debugging-pipe``: it reads NUL-terminated JSON commands on
file descriptor 3 and writes replies and events on descriptor 4, so no WebSocket client or
network port is needed. :func:`inspect_page` loads one file:// URL and returns everything the
report tests check: console messages and uncaught exceptions, every request the page made,
the images' natural sizes, the audio elements' state, the DOM after load and a screenshot.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import select
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    "--mute-audio",
    "--hide-scrollbars",
    "--remote-debugging-pipe",
)

# argv: read fd, write fd, program, its arguments. The read fd is the lowest of the two pipes'
# four fds and at least 3, so moving it to 3 first never overwrites the write fd.
_TRAMPOLINE = (
    "import os, sys; "
    "os.dup2(int(sys.argv[1]), 3); os.dup2(int(sys.argv[2]), 4); "
    "os.execv(sys.argv[3], sys.argv[3:])"
)

# Waits until every <audio> has its metadata (or failed), so a bad relative path shows up.
_AUDIO_READY = """
new Promise((resolve) => {
  const audios = [...document.querySelectorAll('audio')];
  const settled = () => audios.every(a => a.readyState >= 1 || a.error);
  const deadline = Date.now() + %d;
  (function poll() {
    if (settled() || Date.now() > deadline) { resolve(true); } else { setTimeout(poll, 50); }
  })();
})
"""

_STATE = """
JSON.stringify({
  images: [...document.images].map(i => ({src: i.currentSrc || i.src, complete: i.complete,
                                           width: i.naturalWidth, height: i.naturalHeight})),
  audios: [...document.querySelectorAll('audio')].map(a => ({src: a.currentSrc || a.src,
      readyState: a.readyState, duration: a.duration, error: a.error ? a.error.code : null})),
  scripts: document.querySelectorAll('script').length,
  title: document.title,
  dom: document.documentElement.outerHTML,
  width: document.documentElement.scrollWidth,
  height: document.documentElement.scrollHeight,
})
"""


@dataclass
class PageReport:
    """What loading one page produced."""

    console: list[tuple[str, str]] = field(default_factory=list)
    exceptions: list[str] = field(default_factory=list)
    log_entries: list[tuple[str, str, str]] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    failed_requests: list[tuple[str, str]] = field(default_factory=list)
    images: list[dict[str, Any]] = field(default_factory=list)
    audios: list[dict[str, Any]] = field(default_factory=list)
    scripts: int = -1
    title: str = ""
    dom: str = ""
    screenshot: bytes = b""

    def errors(self) -> list[str]:
        """Console errors, uncaught exceptions, error log entries and failed loads."""
        found = [f"console.{level}: {text}" for level, text in self.console if level == "error"]
        found += [f"exception: {text}" for text in self.exceptions]
        found += [
            f"log {src} {lvl}: {text}" for lvl, src, text in self.log_entries if lvl == "error"
        ]
        found += [f"failed: {url} ({why})" for url, why in self.failed_requests]
        return found


class DevToolsPipe:
    """A Chromium process driven over ``--remote-debugging-pipe``."""

    def __init__(self, binary: str, timeout: float = 60.0) -> None:
        self.timeout = timeout
        self.profile = tempfile.TemporaryDirectory(prefix="chromium-profile-")
        to_child_r, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()
        # Chromium wants the pipe on fds 3 and 4. A small Python trampoline moves it there and
        # execs Chromium: safe even when the test process runs threads (preexec_fn is not).
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-c",
                _TRAMPOLINE,
                str(to_child_r),
                str(from_child_w),
                binary,
                *FLAGS,
                f"--user-data-dir={self.profile.name}",
                "about:blank",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            pass_fds=(to_child_r, from_child_w),
        )
        os.close(to_child_r)
        os.close(from_child_w)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict[str, Any]] = []

    def _read_message(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("Chromium did not answer in time")
            ready, _, _ = select.select([self._from_child], [], [], left)
            if ready:
                chunk = os.read(self._from_child, 1 << 20)
                if not chunk:
                    raise EOFError("Chromium closed the DevTools pipe")
                self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def call(self, method: str, params: dict[str, Any] | None = None, session: str = "") -> Any:
        """Send one command and return its result (events that arrive meanwhile are kept)."""
        self._next_id += 1
        command: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            command["sessionId"] = session
        os.write(self._to_child, json.dumps(command).encode() + b"\0")
        deadline = time.monotonic() + self.timeout
        while True:
            message = self._read_message(deadline)
            if message.get("id") == self._next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            if "method" in message:
                self.events.append(message)

    def wait_for(self, method: str, session: str = "") -> dict[str, Any]:
        """Block until event ``method`` arrives (already-received events count)."""
        for event in self.events:
            if event["method"] == method and event.get("sessionId", "") == session:
                return event
        deadline = time.monotonic() + self.timeout
        while True:
            message = self._read_message(deadline)
            if "method" in message:
                self.events.append(message)
                if message["method"] == method and message.get("sessionId", "") == session:
                    return message

    def close(self) -> None:
        """Close the browser (politely, then by force) and remove its profile."""
        with contextlib.suppress(OSError, EOFError, TimeoutError, RuntimeError):
            self.call("Browser.close")
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        for fd in (self._to_child, self._from_child):
            with contextlib.suppress(OSError):
                os.close(fd)
        self.profile.cleanup()


def inspect_page(binary: str, page: Path, *, audio_wait_ms: int = 5000) -> PageReport:
    """Load ``page`` (a local file) and report console, requests, images, audio, DOM, PNG."""
    browser = DevToolsPipe(binary)
    try:
        target = browser.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = browser.call("Target.attachToTarget", {"targetId": target, "flatten": True})[
            "sessionId"
        ]
        for domain in ("Runtime", "Log", "Network", "Page"):
            browser.call(f"{domain}.enable", session=session)
        browser.call(
            "Emulation.setDeviceMetricsOverride",
            {"width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": False},
            session=session,
        )
        browser.call("Page.navigate", {"url": page.resolve().as_uri()}, session=session)
        browser.wait_for("Page.loadEventFired", session=session)
        browser.call(
            "Runtime.evaluate",
            {"expression": _AUDIO_READY % audio_wait_ms, "awaitPromise": True},
            session=session,
        )
        state = json.loads(
            browser.call(
                "Runtime.evaluate", {"expression": _STATE, "returnByValue": True}, session=session
            )["result"]["value"]
        )
        height = min(int(state["height"]), 16000)
        shot = browser.call(
            "Page.captureScreenshot",
            {
                "format": "png",
                "captureBeyondViewport": True,
                "clip": {"x": 0, "y": 0, "width": 1280, "height": height, "scale": 1},
            },
            session=session,
        )
        report = PageReport(
            images=state["images"],
            audios=state["audios"],
            scripts=int(state["scripts"]),
            title=str(state["title"]),
            dom=str(state["dom"]),
            screenshot=base64.b64decode(shot["data"]),
        )
        for event in browser.events:
            params = event.get("params", {})
            method = event["method"]
            if method == "Runtime.consoleAPICalled":
                text = " ".join(
                    str(a.get("value", a.get("description", ""))) for a in params["args"]
                )
                report.console.append((params["type"], text))
            elif method == "Runtime.exceptionThrown":
                details = params["exceptionDetails"]
                report.exceptions.append(
                    str(details.get("exception", {}).get("description", details.get("text")))
                )
            elif method == "Log.entryAdded":
                entry = params["entry"]
                report.log_entries.append((entry["level"], entry["source"], entry["text"]))
            elif method == "Network.requestWillBeSent":
                report.requests.append(params["request"]["url"])
            elif method == "Network.loadingFailed" and not params.get("canceled"):
                report.failed_requests.append((params.get("requestId", ""), params["errorText"]))
        return report
    finally:
        browser.close()
