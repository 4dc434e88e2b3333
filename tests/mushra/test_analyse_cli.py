"""``python -m bench mushra-analyse``: outputs, messages, escaping, atomic writes, the report."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest

from bench.cli import main
from bench.mushra.answers import load_key, load_ratings
from bench.mushra.report import TABLE_FILES, analyse, write_analysis
from bench.report.html import write_report
from tests.report.builders import METRICS, RUN_META, make_results

from .analysis_data import answer_rows, make_key, panel, typical, write_csv

EVIL = '<script>alert("x")</script> & "q" é'


def _objective(item: str, cid: str) -> dict[str, object]:
    base = {"ref": None, "lp70": 6.0, "lp35": 3.0, "opus16": 14.0, "mp3_32": 9.0, "namc6": 11.0}
    value = base[cid]
    return {"snr": None if value is None else value + int(item[-1]) * 0.5, "pesq_wb": None}


def _test(tmp_path: Path, listeners=("ann", "bob", "cyd"), rate=typical) -> list[Path]:
    key = make_key(tmp_path, n_items=5, objective=_objective)
    return panel(tmp_path / "answers", key, listeners, rate)


class _Tags(HTMLParser):
    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def test_writes_tables_plots_and_page(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    paths = _test(tmp_path)
    assert main(["mushra-analyse", *map(str, paths)]) == 0
    out = tmp_path / "analysis"  # default: beside the key found one folder up
    for name in TABLE_FILES.values():
        assert (out / name).is_file(), name
    conditions = pd.read_csv(out / "conditions.csv")
    assert conditions["condition_id"].tolist()[0] == "ref" and conditions["n"].tolist()[0] == 15
    assert len(pd.read_csv(out / "paired_tests.csv")) == 15  # 6 conditions, 15 pairs
    agreement = pd.read_csv(out / "agreement.csv").set_index("metric")
    assert agreement.loc["snr", "n"] == 15 and agreement.loc["pesq_wb", "n_missing"] == 15
    svgs = sorted(p.name for p in (out / "plots").glob("*.svg"))
    assert len(svgs) == 3  # conditions, items, one scatter (pesq_wb has no values)
    html = (out / "mushra.html").read_text(encoding="utf-8")
    tags = _Tags(html)
    assert not any(t == "script" for t, _ in tags.tags)
    srcs = [a["src"] for t, a in tags.tags if t == "img"]
    assert len(srcs) == 3 and all((out / s).is_file() for s in srcs)  # relative, present
    assert not any("://" in a.get("href", "") + a.get("src", "") for _, a in tags.tags)
    assert not [p for p in out.rglob("*") if p.name.endswith(".tmp")]
    text = " ".join(" ".join(tags.text).split())
    assert "built-in method" not in text and "ann 5 0 (0 %) 0 (0 %) kept" in text
    assert "snr 15 0 5 " in text  # metric, N, left out, items
    printed = capsys.readouterr().out
    assert "post-screening (ITU-R BS.1534-3" in printed and "3 of 3 listeners kept" in printed


def _bad_reference(listener: str, item: str, condition: str) -> float:
    if listener == "bob" and condition == "ref":
        return 60
    return typical(listener, item, condition)


def test_screening_excludes_and_says_why(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    paths = _test(tmp_path, rate=_bad_reference)
    assert main(["mushra-analyse", *map(str, paths), "--out", str(tmp_path / "o")]) == 0
    printed = capsys.readouterr().out
    assert "  excluded: bob: hidden reference below 90 on 5 of 5 items" in printed
    assert "2 of 3 listeners kept" in printed
    table = pd.read_csv(tmp_path / "o" / "screening.csv").set_index("listener")
    assert bool(table.loc["bob", "excluded"]) and not bool(table.loc["ann", "excluded"])
    ratings = pd.read_csv(tmp_path / "o" / "ratings.csv")
    assert not ratings.loc[ratings["listener"] == "bob", "kept"].any()
    assert pd.read_csv(tmp_path / "o" / "conditions.csv")["n"].tolist()[0] == 10
    html = (tmp_path / "o" / "mushra.html").read_text(encoding="utf-8")
    assert "excluded: hidden reference below 90 on 5 of 5 items" in html


def test_no_screening_is_stated(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    paths = _test(tmp_path, rate=_bad_reference)
    out = tmp_path / "o"
    assert main(["mushra-analyse", *map(str, paths), "--out", str(out), "--no-screening"]) == 0
    printed = capsys.readouterr().out
    assert "post-screening: OFF (--no-screening)" in printed
    assert "would be excluded: bob" in printed and "3 of 3 listeners kept" in printed
    assert "Post-screening was switched off" in (out / "mushra.html").read_text(encoding="utf-8")
    assert pd.read_csv(out / "conditions.csv")["n"].tolist()[0] == 15


def _error(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ")
    return err[0]


def test_errors_are_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    paths = [str(p) for p in _test(tmp_path)]
    key = make_key(tmp_path / "k", n_items=5)
    deep = tmp_path / "bad" / "deeper" / "x.csv"  # no key.json beside it or one folder up
    bad = write_csv(deep, answer_rows(key, "eve", lambda *a: 120))
    line = _error(capsys, ["mushra-analyse", str(bad), "--key", str(tmp_path / "k/key.json")])
    assert "rating 120 is outside 0..100" in line
    line = _error(capsys, ["mushra-analyse", str(bad)])
    assert "pass --key" in line
    line = _error(capsys, ["mushra-analyse", *paths, "--report", str(tmp_path / "nope")])
    assert "not a folder" in line
    line = _error(capsys, ["mushra-analyse", paths[0], paths[0].replace("ann", "zzz")])
    assert "cannot read answers file" in line
    (tmp_path / "file").write_text("x", encoding="utf-8")
    line = _error(capsys, ["mushra-analyse", *paths, "--out", str(tmp_path / "file" / "o")])
    assert "cannot create output folder" in line
    everyone_bad = _test(tmp_path / "b", rate=lambda *_a: 50)
    line = _error(capsys, ["mushra-analyse", *map(str, everyone_bad)])
    assert "post-screening excluded every listener" in line and "--no-screening" in line


def test_listener_and_label_text_is_escaped(tmp_path: Path):
    key = make_key(tmp_path, n_items=3, objective=_objective)
    key["conditions"]["namc6"]["label"] = EVIL
    (tmp_path / "key.json").write_text(json.dumps(key), encoding="utf-8")
    paths = [write_csv(tmp_path / "a.csv", answer_rows(key, EVIL, typical))]
    paths += panel(tmp_path, key, ["bob"])
    loaded = load_key(tmp_path / "key.json")
    page = write_analysis(tmp_path / "o", analyse(loaded, load_ratings(loaded, paths)), loaded)
    html = page.read_text(encoding="utf-8")
    assert "<script" not in html.lower()
    assert "&lt;script&gt;alert(" in html
    assert EVIL in "".join(_Tags(html).text)  # shown verbatim, as text
    for svg in (tmp_path / "o" / "plots").glob("*.svg"):
        assert "<script" not in svg.read_text(encoding="utf-8").lower()


def test_outputs_are_written_atomically(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    paths = _test(tmp_path)
    key = load_key(tmp_path / "key.json")
    out = tmp_path / "o"
    write_analysis(out, analyse(key, load_ratings(key, paths)), key)
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}

    def broken(_fd: int) -> None:
        raise OSError(28, "No space left on device")

    # A write that fails (disk full at fsync) leaves every earlier file whole, and no debris.
    changed = _test(tmp_path / "c", rate=lambda *a: typical(*a) // 2)
    ckey = load_key(tmp_path / "c" / "key.json")
    analysis = analyse(ckey, load_ratings(ckey, changed), screening=False)
    monkeypatch.setattr("bench.fsutil.os.fsync", broken)
    with pytest.raises(OSError):
        write_analysis(out, analysis, ckey)
    after = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before


def test_report_gets_a_listening_section(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    run = tmp_path / "run"
    results = make_results()
    write_report(run, results, None, METRICS, RUN_META)
    plain = (run / "index.html").read_text(encoding="utf-8")
    assert 'id="listening-test"' not in plain  # nothing analysed yet: no section, no link
    assert "namc-bench:listening-test:begin" in plain

    paths = _test(tmp_path / "test")
    assert main(["mushra-analyse", *map(str, paths), "--report", str(run)]) == 0
    assert "added the listening-test section" in capsys.readouterr().out
    for page in (run / "index.html", run / "mushra" / "analysis" / "mushra.html"):
        html = page.read_text(encoding="utf-8")
        tags = _Tags(html)
        assert 'id="listening-test"' in html and "<script" not in html.lower()
        srcs = [a["src"] for t, a in tags.tags if t == "img" and "mushra-" in a["src"]]
        assert len(srcs) == 3 and all((page.parent / s).is_file() for s in srcs), srcs
    html = (run / "index.html").read_text(encoding="utf-8")
    assert '<a href="#listening-test">Listening test</a>' in html
    assert html.count('id="listening-test"') == 1
    # The rest of the page is the report as it was (the header, datasets and metadata).
    toc = "<!-- namc-bench:listening-test-toc:begin -->"
    assert html[: html.index(toc)] == plain[: plain.index(toc)]
    tail = '<section id="reading">'
    assert (
        html[html.index(tail) :].split("<footer>")[0]
        == plain[plain.index(tail) :].split("<footer>")[0]
    )

    # Analysing again replaces the section, never adds a second one.
    assert main(["mushra-analyse", *map(str, paths), "--report", str(run)]) == 0
    assert (run / "index.html").read_text(encoding="utf-8").count('id="listening-test"') == 1

    # Writing the report again (a re-run) keeps the section: it is read from section.json.
    write_report(run, results, None, METRICS, RUN_META)
    again = (run / "index.html").read_text(encoding="utf-8")
    assert (
        again.count('id="listening-test"') == 1
        and "mushra/analysis/plots/mushra-conditions-" in again
    )


def test_report_without_markers_gets_a_note(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    run = tmp_path / "run"
    run.mkdir()
    (run / "index.html").write_text("<!DOCTYPE html><p>old report</p>", encoding="utf-8")
    paths = _test(tmp_path / "test")
    assert main(["mushra-analyse", *map(str, paths), "--report", str(run)]) == 0
    assert "has no listening-test markers" in capsys.readouterr().err
    assert (run / "index.html").read_text(encoding="utf-8") == "<!DOCTYPE html><p>old report</p>"
    assert (run / "mushra" / "analysis" / "mushra.html").is_file()


def test_report_section_links_only_our_files(tmp_path: Path):
    from bench.mushra.report import load_section

    run = tmp_path / "run"
    (run / "mushra" / "analysis").mkdir(parents=True)
    doc = {
        "version": 1,
        "plots": [{"src": "javascript:alert(1)", "alt": "x", "caption": "x"}],
        "tables": {"screening": "javascript:alert(1)"},
    }
    (run / "mushra" / "analysis" / "section.json").write_text(json.dumps(doc), encoding="utf-8")
    view = load_section(run)
    assert view is not None and view["plots"] == []
    assert set(view["tables"].values()) == {f"mushra/analysis/{f}" for f in TABLE_FILES.values()}
    (run / "mushra" / "analysis" / "section.json").write_text("{broken", encoding="utf-8")
    assert load_section(run) is None
