"""The report as a browser sees it: headless Chromium over the DevTools protocol (stdlib only).

Checks that the page renders, every plot image loads with a real size, every audio player finds
its file, nothing is logged as an error, no request leaves file://, and a ``<script>`` clip id
is text in the DOM, never an element. The screenshot is kept next to the report for a human
to look at (``screenshot.png`` in the test's temporary folder).
"""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

import pytest

from bench.report.html import update_index, write_report
from bench.report.summary import summarize
from tests.conftest import require_binary

from .builders import EVIL_CLIP, METRICS, RUN_META, make_results, render_examples
from .chromium import PageReport, inspect_page

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class _Dom(HTMLParser):
    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[str] = []
        self.text: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append(tag)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, PageReport, PageReport]:
    binary = require_binary("chromium")
    root = tmp_path_factory.mktemp("reports")
    out = root / "2026-01-02_030405"
    results = make_results()
    examples = render_examples(out, results, per_dataset=2)
    page = write_report(out, results, summarize(results, METRICS), METRICS, RUN_META, examples)
    (out / "run.json").write_text(json.dumps(RUN_META), encoding="utf-8")
    index = update_index(root)
    report = inspect_page(binary, page)
    (out / "screenshot.png").write_bytes(report.screenshot)
    return out, report, inspect_page(binary, index)


def test_report_renders_without_errors(loaded: tuple[Path, PageReport, PageReport]):
    _out, report, _index = loaded
    assert report.errors() == []
    assert report.title == "namc-bench report"
    assert report.screenshot.startswith(PNG_MAGIC) and len(report.screenshot) > 20_000


def test_no_request_leaves_the_disk(loaded: tuple[Path, PageReport, PageReport]):
    _out, report, index = loaded
    assert report.requests, "the DevTools log saw no request at all"
    for url in report.requests + index.requests:
        assert url.startswith(("file://", "data:")), url


def test_plots_load(loaded: tuple[Path, PageReport, PageReport]):
    out, report, _index = loaded
    plots = sorted((out / "plots").glob("*.svg"))
    assert len(report.images) == len(plots) == 9
    for image in report.images:
        assert image["complete"] and image["width"] > 300 and image["height"] > 200, image


def test_audio_players_find_their_files(loaded: tuple[Path, PageReport, PageReport]):
    _out, report, _index = loaded
    assert len(report.audios) >= 10
    for audio in report.audios:
        assert audio["error"] is None and audio["readyState"] >= 1, audio
        assert audio["duration"] == pytest.approx(0.3, abs=0.01)


def test_script_clip_name_is_text_not_an_element(loaded: tuple[Path, PageReport, PageReport]):
    _out, report, _index = loaded
    assert report.scripts == 0  # the page has no script of its own, so any would be injected
    dom = _Dom(report.dom)
    assert "script" not in dom.elements and "b" not in dom.elements
    assert EVIL_CLIP in "".join(dom.text)


def test_runs_index_renders(loaded: tuple[Path, PageReport, PageReport]):
    out, _report, index = loaded
    assert index.errors() == []
    assert index.title == "namc-bench runs"
    assert f'href="{out.name}/index.html"' in index.dom


def test_the_checker_sees_what_a_broken_page_does(tmp_path: Path):
    """Negative control: the same checks flag a missing image, a console error, an uncaught
    exception, a network request (to a closed local port, so it fails at once) and a script."""
    binary = require_binary("chromium")
    page = tmp_path / "broken.html"
    page.write_text(
        "<!DOCTYPE html><html><head><title>broken</title></head><body>"
        '<img src="plots/missing.svg"><img src="http://127.0.0.1:9/x.png">'
        "<script>console.error('boom'); undefinedFunction();</script></body></html>",
        encoding="utf-8",
    )
    report = inspect_page(binary, page, audio_wait_ms=0)
    errors = "\n".join(report.errors())
    assert "console.error: boom" in errors
    assert "undefinedFunction" in errors
    assert any(url.startswith("http://127.0.0.1:9/") for url in report.requests)
    assert report.scripts == 1
    assert [image["width"] for image in report.images] == [0, 0]
