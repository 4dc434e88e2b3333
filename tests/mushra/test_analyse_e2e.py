"""The analysis of a test the generator really built from a real run (answers scripted here;
the Chromium test drives the page itself and feeds its download to the analysis)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from bench.cli import main

from .analysis_data import write_csv, write_json


def _answers(key: dict, listener: str, spread: float) -> list[dict]:
    """A listener who hears what SNR measures: codec ratings rise with the stimulus's SNR."""
    rows = []
    for trial in key["trials"]:
        for sid, cid in trial["stimuli"].items():
            kind = key["conditions"][cid]["kind"]
            snr = key["stimuli"][sid]["objective"].get("snr")
            if kind == "reference":
                rating = 100
            elif kind == "anchor_lp70":
                rating = 50
            elif kind == "anchor_lp35":
                rating = 25
            else:
                rating = max(0, min(100, round(30 + 2.5 * (snr or 0) + spread)))
            rows.append(
                {
                    "listener": listener,
                    "session_id": f"s-{listener}",
                    "seed": 3,
                    "block": trial["block"],
                    "trial_id": trial["trial_id"],
                    "item_id": trial["item_id"],
                    "stimulus_id": sid,
                    "rating": rating,
                    "played": 1,
                    "play_seconds": 10.0,
                    "rated_at": "2026-12-02T13:00:00Z",
                }
            )
    return rows


def test_analysis_of_a_generated_test(built_test: tuple[Path, dict], tmp_path: Path, capsys):
    out, key = built_test
    answers = tmp_path / "answers"
    files = [
        write_csv(answers / "mushra-ann-3.csv", _answers(key, "ann", 0)),
        write_json(answers / "mushra-bob-3.json", _answers(key, "bob", 4)),
        write_csv(answers / "mushra-cyd-3.csv", _answers(key, "cyd", -3)),
    ]
    result = tmp_path / "analysis"
    argv = ["mushra-analyse", *map(str, files), "--key", str(out / "key.json")]
    assert main([*argv, "--out", str(result)]) == 0
    assert "3 of 3 listeners kept" in capsys.readouterr().out
    conditions = pd.read_csv(result / "conditions.csv")
    assert set(conditions["condition_id"]) == set(key["conditions"])
    n_items = len(key["items"])
    assert (conditions["n"] == 3 * n_items).all()  # one score per listener and item
    agreement = pd.read_csv(result / "agreement.csv").set_index("metric")
    codec_stimuli = [
        s
        for s in key["stimuli"].values()
        if key["conditions"][s["condition_id"]]["kind"] == "codec"
    ]
    finite = sum(1 for s in codec_stimuli if s["objective"].get("snr") is not None)
    assert agreement.loc["snr", "n"] == finite
    assert agreement.loc["snr", "n_missing"] == len(codec_stimuli) - finite
    assert agreement.loc["snr", "pearson_r"] > 0.9  # ratings were made from SNR
    view = json.loads((result / "section.json").read_text(encoding="utf-8"))
    assert view["n_trials"] == len(key["trials"]) and len(view["plots"]) == 3
