"""The rendered test: files, lengths, rates, loudness, headroom, key.json, against a real run."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from bench.audio import Audio, load_audio
from bench.cli import main as cli_main
from bench.mushra import render
from bench.mushra.loudness import integrated_loudness


def test_counts_and_layout(built_test: tuple[Path, dict]):
    out, key = built_test
    assert len(key["conditions"]) == 6  # reference, 2 anchors, 3 codecs
    assert len(key["items"]) == 5 and len(key["trials"]) == 5 and key["blocks"] == 1
    assert key["signals_per_trial"] == 7 <= 12
    assert key["design_seed"] == 7 and key["schema_version"] == 1
    kinds = sorted(c["kind"] for c in key["conditions"].values())
    assert kinds == ["anchor_lp35", "anchor_lp70", "codec", "codec", "codec", "reference"]
    for trial in key["trials"]:
        assert sorted(trial["stimuli"].values()) == sorted(key["conditions"])
        assert (out / "test" / trial["reference_file"]).is_file()
    files = [s["file"] for s in key["stimuli"].values()]
    assert len(set(files)) == len(files)  # one file per stimulus
    assert not (out / "test" / "key.json").exists() and (out / "key.json").is_file()
    # Names reveal nothing: 16 hex digits, no codec name, no clip id.
    for path in (out / "test" / "audio").iterdir():
        assert path.suffix in (".wav", ".js") and len(path.stem) == 16
        int(path.stem, 16)
    clips = {i["clip_id"] for i in key["items"].values()}
    page = (out / "test" / "index.html").read_text(encoding="utf-8")
    for secret in [*clips, "opus", "mp3", "anchor", "reference_file", "condition"]:
        assert secret not in page.lower() or secret == "reference", secret


def test_every_trial_has_one_rate_and_length_and_16_bit_wavs(built_test: tuple[Path, dict]):
    out, key = built_test
    for trial in key["trials"]:
        paths = [trial["reference_file"], *(key["stimuli"][s]["file"] for s in trial["stimuli"])]
        infos = [sf.info(str(out / "test" / p)) for p in paths]
        assert {(i.samplerate, i.frames, i.channels) for i in infos} == {
            (infos[0].samplerate, infos[0].frames, infos[0].channels)
        }
        assert {i.subtype for i in infos} == {"PCM_16"}
        item = key["items"][trial["item_id"]]
        assert infos[0].frames == round(item["duration_s"] * item["rate"])
        assert item["duration_s"] == pytest.approx(5.0)  # ESC-50 clips are used whole


def test_loudness_is_aligned_and_nothing_clips(built_test: tuple[Path, dict]):
    out, key = built_test
    target = key["loudness"]["target"]
    assert target <= -23.0 and key["loudness"]["common_gain_db"] <= 0
    peaks = []
    for sid, stim in key["stimuli"].items():
        audio = load_audio(out / "test" / stim["file"])
        assert integrated_loudness(audio) == pytest.approx(target, abs=0.1), sid
        peaks.append(float(np.max(np.abs(audio.samples))))
    assert max(peaks) <= 10 ** (key["loudness"]["peak_limit_dbfs"] / 20) + 1e-4


def test_hidden_reference_is_the_excerpt_and_objective_scores_are_stored(
    built_test: tuple[Path, dict], esc50_dir: Path
):
    out, key = built_test
    for trial in key["trials"]:
        item = key["items"][trial["item_id"]]
        hidden = next(s for s, c in trial["stimuli"].items() if c == "reference")
        mine = load_audio(out / "test" / key["stimuli"][hidden]["file"])
        ref = load_audio(out / "test" / trial["reference_file"])
        assert np.array_equal(mine.samples, ref.samples)
        source = load_audio(esc50_dir / "audio" / f"{item['clip_id']}.wav")
        gain = 10 ** (key["stimuli"][hidden]["gain_db"] / 20)
        expected = render.faded(source).samples * gain
        assert np.max(np.abs(mine.samples - expected)) < 2e-4  # 16-bit rounding
        for sid, cid in trial["stimuli"].items():
            snr = key["stimuli"][sid]["objective"]["snr"]
            kind = key["conditions"][cid]["kind"]
            assert (snr is None) if kind == "reference" else math.isfinite(snr)  # ref: +inf


def test_blocks_repeat_reference_and_anchors(small_run: Path, tmp_path: Path):
    out = tmp_path / "blocks"
    status = cli_main(["mushra", str(small_run), "--out", str(out), "--conditions",
                       "opus:16,mp3:16,opus:32", "--per-trial", "2"])  # fmt: skip
    assert status == 0
    key = json.loads((out / "key.json").read_text())
    assert key["blocks"] == 2 and len(key["trials"]) == 10
    for trial in key["trials"]:
        kinds = sorted(key["conditions"][c]["kind"] for c in trial["stimuli"].values())
        assert kinds[:1] == ["anchor_lp35"] and "reference" in kinds and "anchor_lp70" in kinds
        assert len(trial["stimuli"]) == 3 + (2 if trial["block"] == 0 else 1)


def test_same_seed_same_design_and_usage_errors(small_run: Path, tmp_path: Path, capsys):
    args = ["mushra", str(small_run), "--conditions", "opus:16,mp3:32", "--seed", "3"]
    assert cli_main([*args, "--out", str(tmp_path / "a")]) == 0
    assert cli_main([*args, "--out", str(tmp_path / "b")]) == 0
    a, b = (json.loads((tmp_path / n / "key.json").read_text()) for n in "ab")
    assert a["items"] == b["items"] and a["trials"] == b["trials"]
    capsys.readouterr()
    assert cli_main([*args, "--out", str(tmp_path / "c"), "--items", "3"]) == 2
    assert "at least 5 items" in capsys.readouterr().err
    assert cli_main(["mushra", str(small_run), "--conditions", "opus:12"]) == 2
    assert "no ok point at 12 kbps" in capsys.readouterr().err
    assert cli_main(["mushra", str(tmp_path / "nothing")]) == 2
    assert "not a finished run folder" in capsys.readouterr().err


def test_excerpt_window_takes_the_loudest_part():
    rate = 1000
    x = np.zeros(30 * rate, np.float32)
    x[17 * rate : 19 * rate] = 0.5
    start, frames = render.excerpt_window(Audio(x, rate), 10.0)
    assert frames == 10 * rate and start <= 17 * rate and start + frames >= 19 * rate
    assert render.excerpt_window(Audio(x[:5000], rate), 10.0) == (0, 5000)


def test_loudness_plan_lowers_everything_together_to_avoid_clipping():
    rate = 48000
    t = np.arange(rate * 2) / rate
    quiet = Audio((0.01 * np.sin(2 * np.pi * 997 * t)).astype(np.float32), rate)
    spiky = np.full(rate * 2, 0.001, np.float32)
    spiky[::4800] = 0.9
    plan = render.plan_loudness({"q": quiet, "s": Audio(spiky, rate)}, -14.0)
    assert plan.headroom_db < 0 and plan.peak_dbfs == pytest.approx(-1.0)
    assert plan.gains_db["q"] - plan.gains_db["s"] == pytest.approx(
        integrated_loudness(Audio(spiky, rate)) - integrated_loudness(quiet)
    )


def test_datasets_option_reloads_the_same_clips(
    small_run: Path, built_test: tuple[Path, dict], esc50_dir: Path, tmp_path: Path, capsys
):
    _out, key = built_test
    out = tmp_path / "again"
    args = ["mushra", str(small_run), "--out", str(out), "--conditions", "opus:16,mp3:16,opus:32",
            "--seed", "7", "--datasets", f"esc50={esc50_dir}"]  # fmt: skip
    assert cli_main(args) == 0
    again = json.loads((out / "key.json").read_text())
    assert again["items"] == key["items"] and again["trials"] == key["trials"]
    capsys.readouterr()
    # No neural codec in this run, so nothing to match by default.
    assert cli_main(["mushra", str(small_run), "--out", str(tmp_path / "x")]) == 2
    assert "no neural codec to match" in capsys.readouterr().err


def test_an_unrelated_test_folder_is_refused_not_removed(small_run: Path, tmp_path: Path, capsys):
    mine = tmp_path / "out" / "test"
    mine.mkdir(parents=True)
    (mine / "precious.txt").write_text("keep me")
    args = ["mushra", str(small_run), "--out", str(tmp_path / "out"), "--conditions", "opus:16"]
    assert cli_main(args) == 2
    assert "not a listening test this command built" in capsys.readouterr().err
    assert (mine / "precious.txt").read_text() == "keep me"
