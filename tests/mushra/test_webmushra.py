"""The webMUSHRA export: a config webMUSHRA reads, pointing at the test's own files."""

from __future__ import annotations

from pathlib import Path

import yaml

from bench.mushra.webmushra import config_text

#: Keys webMUSHRA's MushraPage reads from a ``type: mushra`` page (configs/default.yaml there).
MUSHRA_PAGE_KEYS = {
    "type", "id", "name", "content", "showWaveform", "enableLooping", "reference",
    "createAnchor35", "createAnchor70", "randomize", "showConditionNames", "stimuli",
}  # fmt: skip


def test_config_has_webmushra_layout_and_resolvable_paths(built_test: tuple[Path, dict]):
    out, key = built_test
    path = out / "webmushra" / "config.yaml"
    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert config["testId"] == key["test_id"] and config["bufferSize"] == 2048
    assert config["stopOnErrors"] is True and config["showButtonPreviousPage"] is True
    assert config["remoteService"] == "service/write.php"
    pages = config["pages"]
    assert pages[0]["type"] == "generic" and pages[-1]["type"] == "finish"
    group = pages[1]
    assert group[0] == "random"  # webMUSHRA shuffles the pages of a list headed "random"
    trials = group[1:]
    assert [t["id"] for t in trials] == [t["trial_id"] for t in key["trials"]]
    by_id = {t["trial_id"]: t for t in key["trials"]}
    for page in trials:
        assert set(page) == MUSHRA_PAGE_KEYS and page["type"] == "mushra"
        assert page["createAnchor35"] is False and page["createAnchor70"] is False
        assert page["randomize"] is True and page["showConditionNames"] is False
        trial = by_id[page["id"]]
        assert set(page["stimuli"]) == set(trial["stimuli"])  # hidden ref and anchors included
        for file in [page["reference"], *page["stimuli"].values()]:
            assert (path.parent / file).resolve().is_file(), file
        assert (path.parent / page["reference"]).resolve() == (
            out / "test" / trial["reference_file"]
        ).resolve()


def test_strings_survive_yaml_quoting():
    key = {
        "run_id": 'odd: "run" # name',
        "test_id": "t: 1",
        "trials": [{"trial_id": "t01", "reference_file": "audio/a b.wav",
                    "stimuli": {"s1": "reference"}}],
        "stimuli": {"s1": {"file": "audio/x: y.wav"}},
    }  # fmt: skip
    config = yaml.safe_load(config_text(key, prefix="res/"))
    assert config["testname"].endswith('odd: "run" # name') and config["testId"] == "t: 1"
    page = config["pages"][1][1]
    assert page["reference"] == "res/audio/a b.wav" and page["stimuli"] == {
        "s1": "res/audio/x: y.wav"
    }
