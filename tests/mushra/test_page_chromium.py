"""The listening page in headless Chromium, opened from file:// with no flags or server.

A scripted listener enters a name, plays every stimulus of every trial (real mouse clicks
through the DevTools protocol), sets every slider and finishes; the page must load and decode
all audio with no console error and no request outside its own folder, lock sliders until
played, keep the playback position across switches, save progress to localStorage, download
the answers as CSV and JSON, and ``mushra-analyse`` must read those downloads back.
"""

from __future__ import annotations

import csv
import itertools
import json
import time
from pathlib import Path
from typing import Any

import pytest

from bench.cli import main as cli_main
from tests.conftest import require_binary
from tests.report.chromium import DevToolsPipe

SEED = 12345
LISTENER = 'tester "1", <b>'
#: Scripted ratings by condition kind (codecs get 60 + 10 * their index).
KIND_RATING = {"reference": 100, "anchor_lp70": 45, "anchor_lp35": 15}


class Page:
    """One tab of a :class:`DevToolsPipe` browser, with small helpers."""

    def __init__(self, browser: DevToolsPipe, downloads: Path) -> None:
        self.browser = browser
        target = browser.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = browser.call("Target.attachToTarget", {"targetId": target, "flatten": True})[
            "sessionId"
        ]
        for domain in ("Runtime", "Log", "Network", "Page"):
            browser.call(f"{domain}.enable", session=self.session)
        browser.call(
            "Browser.setDownloadBehavior",
            {"behavior": "allow", "downloadPath": str(downloads), "eventsEnabled": True},
        )

    def eval(self, expression: str, await_promise: bool = False) -> Any:
        reply = self.browser.call(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": await_promise},
            session=self.session,
        )
        if "exceptionDetails" in reply:
            raise AssertionError(f"{expression}: {reply['exceptionDetails']}")
        return reply["result"].get("value")

    def wait(self, expression: str, timeout: float = 30.0) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = self.eval(expression)
            if value:
                return value
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {expression}")

    def click(self, selector: str) -> None:
        """A real (trusted) mouse click in the middle of ``selector``'s element."""
        box = self.eval(
            f"(() => {{ const e = document.querySelector({json.dumps(selector)});"
            "e.scrollIntoView({block: 'center'}); const r = e.getBoundingClientRect();"
            "return [r.x + r.width / 2, r.y + r.height / 2]; })()"
        )
        for kind in ("mousePressed", "mouseReleased"):
            self.browser.call(
                "Input.dispatchMouseEvent",
                {"type": kind, "x": box[0], "y": box[1], "button": "left", "clickCount": 1},
                session=self.session,
            )

    def navigate(self, url: str) -> None:
        self.browser.events.clear()
        self.browser.call("Page.navigate", {"url": url}, session=self.session)
        self.browser.wait_for("Page.loadEventFired", session=self.session)


def _errors(events: list[dict[str, Any]]) -> list[str]:
    found = []
    for event in events:
        params = event.get("params", {})
        if event["method"] == "Runtime.consoleAPICalled" and params.get("type") == "error":
            found.append(str(params["args"]))
        elif event["method"] == "Runtime.exceptionThrown":
            found.append(str(params["exceptionDetails"]))
        elif event["method"] == "Log.entryAdded" and params["entry"]["level"] == "error":
            found.append(params["entry"]["text"])
        elif event["method"] == "Network.loadingFailed" and not params.get("canceled"):
            found.append(params["errorText"])
    return found


def _requests(events: list[dict[str, Any]]) -> list[str]:
    return [
        e["params"]["request"]["url"] for e in events if e["method"] == "Network.requestWillBeSent"
    ]


def _rating(key: dict, trial: dict, sid: str) -> int:
    cid = trial["stimuli"][sid]
    kind = key["conditions"][cid]["kind"]
    if kind in KIND_RATING:
        return KIND_RATING[kind]
    codecs = sorted(c for c, v in key["conditions"].items() if v["kind"] == "codec")
    return 60 + 10 * codecs.index(cid)


@pytest.fixture(scope="module")
def session(built_test: tuple[Path, dict], tmp_path_factory: pytest.TempPathFactory):
    """Run the whole scripted session once; returns what the tests check."""
    binary = require_binary("chromium")
    out, key = built_test
    downloads = tmp_path_factory.mktemp("downloads")
    browser = DevToolsPipe(binary)
    facts: dict[str, Any] = {"trials": [], "out": out, "key": key, "downloads": downloads}
    try:
        page = Page(browser, downloads)
        index = out / "test" / "index.html"
        page.navigate(index.resolve().as_uri() + f"?seed={SEED}")
        page.wait("document.body.dataset.ready === 'start'")
        facts["seed_shown"] = page.eval("document.getElementById('seed').textContent")
        page.eval(f"document.getElementById('listener').value = {json.dumps(LISTENER)}")
        page.click("#begin")
        by_id = {t["trial_id"]: t for t in key["trials"]}
        for number in range(len(key["trials"])):
            progress = f"Trial {number + 1} "
            trial_id = page.wait(
                "!['start', 'loading'].includes(document.body.dataset.ready) &&"
                f" document.getElementById('progress').textContent.startsWith('{progress}')"
                " && document.body.dataset.ready"
            )
            trial = by_id[trial_id]
            seen: dict[str, Any] = {"trial_id": trial_id}
            seen["sliders"] = page.eval("document.querySelectorAll('input[type=range]').length")
            seen["locked"] = page.eval(
                "[...document.querySelectorAll('input[type=range]')].every(s => s.disabled)"
            )
            seen["next_locked"] = page.eval("document.getElementById('next').disabled")
            seen["length"] = page.eval("window.MUSHRA_PAGE.trialLength()")
            seen["order"] = page.eval(
                "[...document.querySelectorAll('input[type=range]')].map(s => s.dataset.sid)"
            )
            page.click("#ref")
            positions, gains = [], []
            for sid in seen["order"]:
                page.click(f'button[data-play="{sid}"]')
                page.wait(f"!document.querySelector('input[data-sid=\"{sid}\"]').disabled")
                time.sleep(0.12)
                positions.append(page.eval("window.MUSHRA_PAGE.position()"))
                gains.append((sid, page.eval("window.MUSHRA_PAGE.gains()")))
                value = _rating(key, trial, sid)
                page.eval(
                    f"(() => {{ const s = document.querySelector('input[data-sid=\"{sid}\"]');"
                    f" s.value = '{value}'; s.dispatchEvent(new Event('input')); }})()"
                )
            seen["positions"] = positions
            seen["gains"] = gains
            seen["context"] = page.eval("window.MUSHRA_PAGE.context()")
            seen["saved"] = page.eval(
                f"JSON.parse(localStorage.getItem('namc-mushra:{key['test_id']}')).ratings"
                f"[{json.dumps(trial_id)}]"
            )
            page.click("#stop")
            page.wait("!document.getElementById('next').disabled")
            facts["trials"].append(seen)
            page.click("#next")
        page.wait("document.body.dataset.ready === 'done'")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and len(list(downloads.glob("mushra-*"))) < 2:
            time.sleep(0.1)
        time.sleep(0.3)
        facts["events"] = list(browser.events)
        facts["answers"] = page.eval("window.MUSHRA_ANSWERS")
    finally:
        browser.close()
    return facts


def test_page_loads_every_trial_with_no_error_and_no_request_outside_its_folder(session):
    assert _errors(session["events"]) == []
    folder = (session["out"] / "test").resolve().as_uri() + "/"
    requests = _requests(session["events"])
    assert requests, "no request recorded"
    outside = [u for u in requests if not (u.startswith(folder) or u.startswith("blob:"))]
    assert outside == []
    scripts = {u for u in requests if u.endswith(".js")}
    assert len(scripts) == len(session["key"]["stimuli"]) + len(session["key"]["trials"])


def test_counts_locks_and_order_match_the_key(session):
    key = session["key"]
    assert session["seed_shown"] == str(SEED)
    assert len(session["trials"]) == len(key["trials"])
    assert {t["trial_id"] for t in session["trials"]} == {t["trial_id"] for t in key["trials"]}
    by_id = {t["trial_id"]: t for t in key["trials"]}
    for seen in session["trials"]:
        trial = by_id[seen["trial_id"]]
        assert seen["sliders"] == len(trial["stimuli"]) == key["signals_per_trial"] - 1
        assert seen["locked"] and seen["next_locked"]
        assert sorted(seen["order"]) == sorted(trial["stimuli"])
        item = key["items"][trial["item_id"]]
        assert seen["length"] == pytest.approx(item["duration_s"], abs=1e-3)
        assert all(r["played"] == 1 for r in seen["saved"].values())  # autosaved
    orders = [tuple(s["order"]) for s in session["trials"]]
    assert any(list(o) != sorted(o) for o in orders)  # shuffled, not the key's order


def test_switching_keeps_the_playback_position(session):
    seen = session["trials"][0]
    assert seen["context"] == "running"
    positions = seen["positions"]
    # The position runs on through every switch (it only wraps at the loop end).
    steps = [b - a for a, b in itertools.pairwise(positions)]
    length = seen["length"]
    assert all(0.05 < (s % length) < 2.0 for s in steps), positions


def test_after_a_switch_only_the_chosen_signal_is_heard(session):
    for seen in session["trials"]:
        for sid, gains in seen["gains"]:
            assert gains[sid] == pytest.approx(1.0)
            assert all(v == pytest.approx(0.0, abs=1e-6) for k, v in gains.items() if k != sid)


def test_downloads_match_the_contract_and_the_ratings(session):
    key, downloads = session["key"], session["downloads"]
    name = f"mushra-tester_1_b_-{SEED}"
    csv_path, json_path = downloads / f"{name}.csv", downloads / f"{name}.json"
    assert csv_path.is_file() and json_path.is_file(), sorted(p.name for p in downloads.iterdir())
    with csv_path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == [
        "listener", "session_id", "seed", "block", "trial_id", "item_id", "stimulus_id",
        "rating", "played", "play_seconds", "rated_at",
    ]  # fmt: skip
    assert len(rows) == sum(len(t["stimuli"]) for t in key["trials"])
    by_id = {t["trial_id"]: t for t in key["trials"]}
    for row in rows:
        trial = by_id[row["trial_id"]]
        assert row["listener"] == LISTENER and row["seed"] == str(SEED)
        assert row["item_id"] == trial["item_id"] and row["block"] == str(trial["block"])
        assert int(row["rating"]) == _rating(key, trial, row["stimulus_id"])
        assert row["played"] == "1" and float(row["play_seconds"]) > 0
        assert row["rated_at"].endswith("Z")
    data = json.loads(json_path.read_text(encoding="utf-8"))
    assert data["schema_version"] == 1 and data["seed"] == SEED and data["listener"] == LISTENER
    assert data["started_at"] <= data["finished_at"] and "Chrome" in data["user_agent"]
    assert [str(r["rating"]) for r in data["rows"]] == [r["rating"] for r in rows]


def test_the_analysis_reads_the_downloads_back(session, tmp_path: Path, capsys):
    key_path = session["out"] / "key.json"
    answers = sorted(str(p) for p in session["downloads"].glob("mushra-*.csv"))
    out = tmp_path / "analysis"
    status = cli_main(["mushra-analyse", *answers, "--key", str(key_path), "--out", str(out)])
    text = capsys.readouterr()
    assert status == 0, text.err
    assert any(out.iterdir())
    again = tmp_path / "analysis-json"
    answers_json = sorted(str(p) for p in session["downloads"].glob("mushra-*.json"))
    assert (
        cli_main(["mushra-analyse", *answers_json, "--key", str(key_path), "--out", str(again)])
        == 0
    )


def _first_trial(page: Page) -> tuple[str, list[str]]:
    trial_id = page.wait(
        "!['start', 'loading'].includes(document.body.dataset.ready) && document.body.dataset.ready"
    )
    order = page.eval("[...document.querySelectorAll('input[type=range]')].map(s => s.dataset.sid)")
    return trial_id, order


def test_same_seed_same_order_and_a_reload_resumes(session, tmp_path: Path):
    binary = require_binary("chromium")
    url = (session["out"] / "test" / "index.html").resolve().as_uri()
    browser = DevToolsPipe(binary)
    try:
        page = Page(browser, tmp_path)
        page.navigate(url + f"?seed={SEED}")
        page.wait("document.body.dataset.ready === 'start'")
        assert page.eval("document.getElementById('resume-box').classList.contains('hidden')")
        page.eval("document.getElementById('listener').value = 'second'")
        page.click("#begin")
        trial_id, order = _first_trial(page)
        first = session["trials"][0]
        assert (trial_id, order) == (first["trial_id"], first["order"])  # the seed's order
        page.click(f'button[data-play="{order[0]}"]')
        page.wait(f"!document.querySelector('input[data-sid=\"{order[0]}\"]').disabled")
        page.eval(
            f"(() => {{ const s = document.querySelector('input[data-sid=\"{order[0]}\"]');"
            " s.value = '33'; s.dispatchEvent(new Event('input')); })()"
        )
        page.navigate(url)  # a reload: the unfinished session is offered
        page.wait("document.body.dataset.ready === 'start'")
        assert "second" in page.eval("document.getElementById('resume-info').textContent")
        page.click("#resume")
        assert _first_trial(page) == (trial_id, order)
        assert page.eval(
            f"[document.querySelector('input[data-sid=\"{order[0]}\"]').value,"
            f" document.querySelector('input[data-sid=\"{order[1]}\"]').disabled]"
        ) == ["33", True]
        page.eval("localStorage.clear()")
        page.navigate(url + "?seed=999")
        page.wait("document.body.dataset.ready === 'start'")
        page.eval("document.getElementById('listener').value = 'third'")
        page.click("#begin")
        other = _first_trial(page)
        orders = [tuple(t["order"]) for t in session["trials"]]
        assert other != (trial_id, order) and (
            other[0] != trial_id or tuple(other[1]) not in orders
        )
        assert _errors(browser.events) == []
    finally:
        browser.close()
