"""The HTML report and the runs index: content, escaping, self-containment, failure reporting."""

from __future__ import annotations

import json
import os
import re
from html.parser import HTMLParser
from pathlib import Path
from xml.etree import ElementTree

import pandas as pd
import pytest

from bench.report.examples import RenderedExample, select_examples
from bench.report.html import TABLE_FILES, update_index, write_report
from bench.report.info import MetricInfo
from bench.report.matching import matched_quality_table, rd_points
from bench.report.plots import render_rd_svg, safe_label, svg_text, write_rd_plots
from bench.report.summary import summarize

from .builders import EVIL_CLIP, EVIL_CODEC, METRICS, RUN_META, make_results, render_examples


class _Page(HTMLParser):
    """Start tags with their attributes, and the text content, of an HTML document."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def all_text(self) -> str:
        return "".join(self.text)

    def count(self, tag: str) -> int:
        return sum(1 for name, _ in self.tags if name == tag)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame, str]:
    """One report over the constructed table, shared by the tests of this module."""
    out = tmp_path_factory.mktemp("run")
    results = make_results()
    examples = render_examples(out, results, per_dataset=2)
    page = write_report(out, results, summarize(results, METRICS), METRICS, RUN_META, examples)
    return out, results, page.read_text(encoding="utf-8")


def test_files_written(built: tuple[Path, pd.DataFrame, str]):
    out, results, html = built
    assert (out / "index.html").is_file()
    # esc50: snr, si_sdr, visqol_audio, lsd; librispeech: snr, si_sdr, stoi, pesq_wb, lsd.
    assert len(list((out / "plots").glob("*.svg"))) == 9
    for name in TABLE_FILES.values():
        assert (out / name).is_file()
    written = pd.read_csv(out / TABLE_FILES["matched_quality"])
    expected = matched_quality_table(results, METRICS)
    assert len(written) == len(expected)
    assert written["quality"].to_numpy() == pytest.approx(
        expected["quality"].to_numpy(), nan_ok=True, rel=1e-9
    )
    assert not [p for p in out.rglob("*") if p.name.endswith(".tmp")]  # atomic writes only
    assert html.startswith("<!DOCTYPE html>")


def test_strings_from_data_are_escaped(built: tuple[Path, pd.DataFrame, str]):
    _out, _results, html = built
    page = _Page(html)
    # The page has no script at all, so a <script in the source can only be an injection.
    assert page.count("script") == 0 and "<script" not in html.lower()
    assert "&lt;script&gt;alert(" in html
    assert EVIL_CLIP in page.all_text()  # shown to the reader, verbatim, as text
    assert page.count("b") == 0 and "&lt;b&gt;plug$in$&lt;/b&gt;" in html
    assert "mp3 encoder &lt;failed&gt; &amp; stopped" in html
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert page.count("img") == 9  # the plots and nothing from data


def test_page_is_self_contained(built: tuple[Path, pd.DataFrame, str]):
    out, _results, html = built
    page = _Page(html)
    links = [
        value
        for _tag, attrs in page.tags
        for key, value in attrs.items()
        if key in ("src", "href") and value is not None
    ]
    assert links
    for link in links:
        assert not re.match(r"^[a-z][a-z0-9+.-]*:", link, re.I), link  # no scheme: no network
        assert not link.startswith(("//", "/")), link
        if not link.startswith("#"):
            assert (out / link).is_file(), link
    assert "url(" not in html and "@import" not in html and "<link" not in html


def test_sections_and_numbers(built: tuple[Path, pd.DataFrame, str]):
    _out, _results, html = built
    text = " ".join(_Page(html).all_text().split())
    for heading in (
        "At the same bits",
        "Rate-distortion curves",
        "Every codec at the neural codec's measured bitrates",
        "Bitrate each classic codec needs for the neural codec's quality",
        "BD-rate",
        "Summary",
        "Failures",
        "Listening examples",
        "Run metadata",
    ):
        assert text.count(heading) >= 1, heading
    # Speech-only metrics are not shown for the audio dataset, and the page says so.
    esc50 = text[text.index("esc50 audio") : text.index("librispeech speech")]
    assert (
        "Not shown for this audio dataset (metric does not apply to its content): stoi, pesq_wb"
        in esc50
    )
    assert "pesq_wb" not in esc50.split("pesq_wb.", 1)[1].split("Failures")[0]
    # namc is twice as efficient as opus: opus needs 2x the bits at every matched point.
    assert "×2.00" in text and "×4.00" in text and "×2.50" in text
    assert "1× mp3 encoder <failed> & stopped" in text
    assert "pesq_wb: no_utterance ×1" in text
    assert "too few points" in text  # namc has three operating points, BD-rate needs four
    assert "1 of 76 rows failed" in text
    assert "run_bench.py --codecs all --limit 4" in text


def test_listening_examples_play_relative_files(built: tuple[Path, pd.DataFrame, str]):
    out, results, html = built
    page = _Page(html)
    sources = [attrs["src"] for tag, attrs in page.tags if tag == "audio"]
    requests = select_examples(results, per_dataset=2)
    assert len(sources) == sum(1 + len(r.points) for r in requests)
    assert all(src and (out / src).is_file() and src.startswith("examples/") for src in sources)
    assert all("controls" in attrs for tag, attrs in page.tags if tag == "audio")


def test_missing_and_failed_examples_are_reported(tmp_path: Path):
    results = make_results()
    (request, *_rest) = select_examples(results, per_dataset=1)
    first, second, *_ = request.points
    examples = [
        RenderedExample(
            request,
            original=None,
            decoded={first: tmp_path / "examples" / "nowhere.wav"},
            errors={second: "decoder <crashed>"},
        )
    ]
    html = write_report(tmp_path, results, None, METRICS, {}, examples).read_text("utf-8")
    text = " ".join(_Page(html).all_text().split())
    assert "file missing: examples/nowhere.wav" in text
    assert "decoder <crashed>" in text and "not rendered" in text
    assert _Page(html).count("audio") == 0
    outside = [RenderedExample(request, original=tmp_path.parent / "elsewhere.wav")]
    with pytest.raises(ValueError, match="not inside the report folder"):
        write_report(tmp_path, results, None, METRICS, {}, outside)


def test_synthetic_banner_and_no_neural_codec(tmp_path: Path):
    results = make_results(clips_per_dataset=2)
    plain = write_report(tmp_path / "a", results, None, METRICS, {}).read_text("utf-8")
    assert "Synthetic signals, not a corpus" not in plain
    assert "No neural codec in this run" not in plain
    results["synthetic"] = results["dataset"] == "esc50"
    results["neural"] = False
    html = write_report(tmp_path / "b", results, None, METRICS, {}).read_text("utf-8")
    text = " ".join(_Page(html).all_text().split())
    assert "Synthetic signals, not a corpus: dataset esc50 is generated test audio" in text
    assert "No neural codec in this run" in text
    assert "Every codec at the neural codec's measured bitrates" not in text
    assert "BD-rate" in text and "Rate-distortion curves" in text


def test_plot_labels_are_inert():
    assert safe_label("a$x^2$b") == r"a\$x^2\$b"
    assert safe_label("_hidden").startswith("\u200b")  # a leading _ hides a legend entry
    assert safe_label("line\nbreak\x00") == "line break"
    assert len(safe_label("x" * 200)) == 48
    assert safe_label("") == "\u200b"


SVG_NS = "{http://www.w3.org/2000/svg}"
SVG_ELEMENTS = {"svg", "g", "rect", "line", "polyline", "polygon", "circle", "text", "clipPath"}


def test_svg_text_is_inert():
    assert svg_text('<b a="1">&\'') == "&lt;b a=&quot;1&quot;&gt;&amp;&apos;"
    assert svg_text("a$x^2$b") == "a$x^2$b"  # no mathtext any more: shown as it is
    assert svg_text("line\nbreak\x00\ud800\ufffe") == "line break"
    assert len(svg_text("x" * 200)) == 48


def test_rd_plot_text_from_data_stays_text():
    evil = '<script>alert(1)</script>\x01&"'
    points = pd.DataFrame(
        {"codec": [evil, evil, "opus"], "kbps": [6.0, 12.0, 8.0], "quality": [1.0, 2.0, 1.5],
         "ci95": [0.1, float("nan"), 0.2], "neural": [True, True, False]}
    )  # fmt: skip
    info = MetricInfo(evil, True, "dB")
    styles = {evil: {"color": "#d62728", "marker": "*"}, "opus": {"color": "#1f77b4"}}
    svg = render_rd_svg(points, info, f"{evil} - title", styles)
    assert b"<script" not in svg
    root = ElementTree.fromstring(svg)
    texts = [e.text or "" for e in root.iter(f"{SVG_NS}text")]
    name = '<script>alert(1)</script> &"'
    assert f"{name} (neural)" in texts and f"{name} - title" in texts
    assert any(t.startswith(f"{name} (dB)") and t.endswith("higher is better") for t in texts)
    assert "opus" in texts
    assert svg == render_rd_svg(points, info, f"{evil} - title", styles)  # deterministic


def test_plots_carry_no_markup_from_data(built: tuple[Path, pd.DataFrame, str]):
    out, _results, _html = built
    shown: list[str] = []
    for svg in (out / "plots").glob("*.svg"):
        content = svg.read_text("utf-8")
        assert "<script" not in content and "<b>" not in content
        # Well-formed, only drawing elements, no attribute that loads or runs anything.
        root = ElementTree.fromstring(content.encode("utf-8"))
        for element in root.iter():
            assert element.tag.removeprefix(SVG_NS) in SVG_ELEMENTS, element.tag
            assert not any(a.startswith("on") or "href" in a for a in element.attrib)
            if element.tag == f"{SVG_NS}text":
                assert len(element) == 0  # character data only, never child markup
                shown.append(element.text or "")
    # The plug-in codec's name is in the legends as the text it is (escaped in the file).
    assert EVIL_CODEC in shown


def test_update_index_lists_runs_newest_first(tmp_path: Path):
    def run(name: str, meta: object, page: bool = True) -> Path:
        folder = tmp_path / name
        folder.mkdir()
        (folder / "run.json").write_text(
            meta if isinstance(meta, str) else json.dumps(meta), encoding="utf-8"
        )
        if page:
            (folder / "index.html").write_text("<!DOCTYPE html>", encoding="utf-8")
        return folder

    run("2026-01-01_old", {**RUN_META, "started_at": "2026-01-01T10:00:00Z"})
    run("2026-03-01_new", {**RUN_META, "started_at": "2026-03-01T10:00:00Z", "status": "ok"})
    run("<b>odd & name", {"started_at": 1767225600, "codecs": ["opus", "mp3"]})
    run("unfinished", {"started_at": "2025-12-01T00:00:00"}, page=False)
    broken = run("broken", "{not json")
    os.utime(broken, (0, 0))  # no start time: sorted by its (ancient) modification time
    (tmp_path / "no-run-json").mkdir()

    html = update_index(tmp_path).read_text("utf-8")
    page = _Page(html)
    text = " ".join(page.all_text().split())
    # 1767225600 is 2026-01-01 00:00 UTC: ten hours before the "old" run.
    names = ("2026-03-01_new", "2026-01-01_old", "<b>odd & name", "unfinished")
    order = [text.index(n) for n in names]
    assert order == sorted(order) and text.index("broken") > order[-1]
    assert "no-run-json" not in text
    assert "unreadable run.json" in text
    assert "incomplete (no index.html)" in text
    assert "2026-01-01 00:00:00 UTC" in text  # a Unix timestamp, shown as a date
    hrefs = [attrs["href"] for tag, attrs in page.tags if tag == "a"]
    assert hrefs == [
        "2026-03-01_new/index.html",
        "2026-01-01_old/index.html",
        "%3Cb%3Eodd%20%26%20name/index.html",
        "broken/index.html",
    ]
    assert page.count("b") == 0 and "&lt;b&gt;odd &amp; name" in html
    assert "run_bench.py --codecs all --limit 4" in text
    assert not list(tmp_path.glob(".*.tmp"))


def test_degenerate_tables_still_give_a_page(tmp_path: Path):
    results = make_results(clips_per_dataset=2)
    failed = results.assign(status="error", error="encoder missing")
    for name in METRICS:
        failed[name] = float("nan")
    html = write_report(tmp_path / "failed", failed, None, METRICS, {}).read_text("utf-8")
    text = " ".join(_Page(html).all_text().split())
    assert "No scored points to plot." in text
    assert "38 of 38 rows failed" in text and "2× encoder missing" in text
    assert not (tmp_path / "failed" / "plots").exists()
    empty = write_report(tmp_path / "empty", results.iloc[0:0], None, METRICS, {})
    assert "<table" not in empty.read_text("utf-8").split("How to read this page")[0]
    minimal = results[
        ["dataset", "clip_id", "codec", "target_kbps", "actual_kbps", "status", "snr"]
    ]
    page = write_report(tmp_path / "minimal", minimal, None, METRICS, {"command": 5})
    assert "No neural codec in this run" in page.read_text("utf-8")


def test_plot_and_template_caches_are_reused(tmp_path: Path):
    results = make_results()
    cache = tmp_path / "cache"
    first = write_report(tmp_path / "a", results, None, METRICS, RUN_META, cache_dir=cache)
    kept = sorted(cache.glob("*.svg"))
    assert len(kept) == 9 and list((cache / "templates").glob("*.cache"))
    # A second run with the same data takes its plots from the cache (marked here to tell).
    marked = kept[0].read_bytes().replace(b"</svg>", b"<!-- kept -->\n</svg>")
    kept[0].write_bytes(marked)
    second = write_report(tmp_path / "b", results, None, METRICS, RUN_META, cache_dir=cache)
    plots = {p.read_bytes() for p in (tmp_path / "b" / "plots").glob("*.svg")}
    assert marked in plots and len(plots) == 9
    stamp = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC")
    assert stamp.sub("", first.read_text("utf-8")) == stamp.sub("", second.read_text("utf-8"))
    # Other data (every point's rate): drawn again, not taken from the cache.
    other = results.assign(actual_kbps=results["actual_kbps"] * 1.01)
    write_report(tmp_path / "c", other, None, METRICS, RUN_META, cache_dir=cache)
    assert marked not in {p.read_bytes() for p in (tmp_path / "c" / "plots").glob("*.svg")}


def test_a_plots_cache_key_depends_on_its_own_rows_only(tmp_path: Path):
    # write_rd_plots hashes the points table once and gives each plot its rows' hashes.
    points = rd_points(make_results(), METRICS)
    codecs, neural = sorted(set(points["codec"])), {"namc"}
    cache = tmp_path / "cache"
    write_rd_plots(tmp_path / "a", points, METRICS, codecs, neural, cache)
    keys = set(cache.glob("*.svg"))
    assert len(keys) == 9
    # One plot's rows alone give that plot the key it had in the whole table.
    dataset, metric = points["dataset"].iloc[0], points["metric"].iloc[0]
    alone = points[(points["dataset"] == dataset) & (points["metric"] == metric)]
    assert len(write_rd_plots(tmp_path / "b", alone, METRICS, codecs, neural, cache)) == 1
    assert set(cache.glob("*.svg")) == keys
    # Another plot's data changed: that plot alone misses the cache.
    changed = points.copy()
    last = (changed["dataset"] == changed["dataset"].iloc[-1]) & (
        changed["metric"] == changed["metric"].iloc[-1]
    )
    changed.loc[last, "quality"] += 0.5
    write_rd_plots(tmp_path / "c", changed, METRICS, codecs, neural, cache)
    assert len(set(cache.glob("*.svg")) - keys) == 1


def _count_compiles(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    import jinja2

    compiled: list[str] = []
    original = jinja2.Environment.compile

    def counting(self, source, name=None, filename=None, *args, **kwargs):
        compiled.append(str(name))
        return original(self, source, name, filename, *args, **kwargs)

    monkeypatch.setattr(jinja2.Environment, "compile", counting)
    return compiled


def test_templates_kept_in_the_user_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    compiled = _count_compiles(monkeypatch)
    results = make_results()
    first = write_report(
        tmp_path / "a", results, None, METRICS, RUN_META, cache_dir=tmp_path / "s1"
    )
    assert "report.html.j2" in compiled
    kept = list((tmp_path / "xdg" / "namc-bench" / "templates").glob("jinja2-*/*.cache"))
    assert kept
    # A new results store (its files cache empty): nothing compiled, the same page.
    compiled.clear()
    second = write_report(
        tmp_path / "b", results, None, METRICS, RUN_META, cache_dir=tmp_path / "s2"
    )
    assert compiled == []
    stamp = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC")
    assert stamp.sub("", first.read_text("utf-8")) == stamp.sub("", second.read_text("utf-8"))
    # A damaged entry is compiled again, not an error.
    for entry in kept:
        entry.write_bytes(b"not bytecode")
    write_report(tmp_path / "c", results, None, METRICS, RUN_META, cache_dir=tmp_path / "s3")
    assert "report.html.j2" in compiled


def test_an_unusable_user_cache_still_renders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    import jinja2

    results = make_results()
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))  # its folder cannot be made
    page = write_report(tmp_path / "a", results, None, METRICS, RUN_META, cache_dir=None)
    assert "namc-bench report" in page.read_text("utf-8")
    # A folder that cannot be written to (root ignores permissions, so the write fails here).
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))

    def refuse(self, bucket):
        raise PermissionError("read-only")

    monkeypatch.setattr(jinja2.FileSystemBytecodeCache, "dump_bytecode", refuse)
    page = write_report(tmp_path / "b", results, None, METRICS, RUN_META, cache_dir=tmp_path / "s")
    assert "namc-bench report" in page.read_text("utf-8")


def test_warm_up_loads_every_template_the_page_uses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """After warm_up(cache_dir) (the runner calls it while its workers compute), write_report
    with that cache_dir loads no template; REPORT_TEMPLATES is report.html.j2 and everything it
    includes, followed through the includes."""
    import jinja2
    import jinja2.meta

    from bench.report.html import _TEMPLATES, REPORT_TEMPLATES, warm_up

    source = jinja2.Environment(loader=jinja2.FileSystemLoader(str(_TEMPLATES)))
    closure, todo = set(), ["report.html.j2"]
    while todo:
        name = todo.pop()
        closure.add(name)
        text = source.loader.get_source(source, name)[0]
        found = jinja2.meta.find_referenced_templates(source.parse(text))
        todo += [n for n in found if n and n not in closure]
    assert set(REPORT_TEMPLATES) == closure

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    loaded: list[str] = []
    original = jinja2.FileSystemLoader.get_source

    def counting(self, environment, template):
        loaded.append(template)
        return original(self, environment, template)

    monkeypatch.setattr(jinja2.FileSystemLoader, "get_source", counting)
    cache = tmp_path / "cache"
    warm_up(cache)
    assert sorted(loaded) == sorted(REPORT_TEMPLATES)
    loaded.clear()
    page = write_report(tmp_path / "a", make_results(), None, METRICS, RUN_META, cache_dir=cache)
    assert loaded == [] and "namc-bench report" in page.read_text("utf-8")
