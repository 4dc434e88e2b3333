"""Constructed results tables with known rate-distortion behaviour, for the report tests."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from bench.report.info import MetricInfo

#: The metric properties the report tests use (a subset of the suite's metrics).
METRICS: dict[str, MetricInfo] = {
    "snr": MetricInfo("snr", True, "dB", "both"),
    "si_sdr": MetricInfo("si_sdr", True, "dB", "both"),
    "stoi": MetricInfo("stoi", True, "", "speech"),
    "pesq_wb": MetricInfo("pesq_wb", True, "MOS-LQO", "speech"),
    "visqol_audio": MetricInfo("visqol_audio", True, "MOS-LQO", "audio"),
    "lsd": MetricInfo("lsd", False, "dB", "both"),
}

#: A clip id that must come out of the page as text, never as markup.
EVIL_CLIP = '<script>alert("x")</script> & "quotes" é'
#: A plug-in codec name with HTML and mathtext in it.
EVIL_CODEC = "<b>plug$in$</b>"

#: codec -> (neural, ladder of target kbps, rate efficiency: quality at r equals the reference
#: curve at efficiency * r, measured rate = target * overshoot)
CODECS: dict[str, tuple[bool, tuple[float, ...], float, float]] = {
    "namc": (True, (3.0, 6.0, 12.0), 2.0, 1.02),
    "opus": (False, (6.0, 8.0, 12.0, 16.0, 24.0, 32.0), 1.0, 1.05),
    "mp3": (False, (16.0, 24.0, 32.0, 48.0, 64.0), 0.5, 0.98),
    EVIL_CODEC: (False, (8.0, 16.0, 32.0, 64.0), 0.8, 1.0),
}


def _row(dataset: str, domain: str, clip: str, codec: str, target: float) -> dict[str, object]:
    return {
        "dataset": dataset,
        "clip_id": clip,
        "domain": domain,
        "synthetic": dataset == "demo",
        "codec": codec,
        "neural": codec == "namc",
        "target_kbps": target,
        "header_bytes": 0,
        "container_bytes": math.nan,
        "sample_rate": 16000 if domain == "speech" else 44100,
        "lag_samples": 0,
        "status": "ok",
        "error": "",
        "encode_s": 0.01,
        "decode_s": 0.005,
    }


def make_results(clips_per_dataset: int = 4, seed: int = 0) -> pd.DataFrame:
    """Two datasets (speech and audio) x 4 codecs + flac, with curves that follow
    ``quality = offset + slope * log2(efficiency * rate)``, one failed point, one silent clip
    and a clip id full of HTML."""
    rng = np.random.default_rng(seed)
    rows: list[dict[str, object]] = []
    for dataset, domain in (("librispeech", "speech"), ("esc50", "audio")):
        clips = [f"{dataset}-clip-{i}" for i in range(clips_per_dataset - 1)] + [EVIL_CLIP]
        for ci, clip in enumerate(clips):
            offset = rng.normal(0.0, 0.3)
            duration = 5.0
            for codec, (_neural, ladder, efficiency, overshoot) in CODECS.items():
                for target in ladder:
                    row = _row(dataset, domain, clip, codec, target)
                    kbps = target * overshoot * (1 + 0.01 * rng.standard_normal())
                    payload = round(kbps * 1000 * duration / 8)
                    level = math.log2(efficiency * kbps)
                    row.update(
                        actual_kbps=8 * payload / duration / 1000,
                        bytes=payload,
                        duration_s=duration,
                        snr=2.0 + 4.0 * level + offset,
                        si_sdr=1.0 + 4.2 * level + offset,
                        stoi=min(0.99, 0.55 + 0.08 * level),
                        pesq_wb=min(4.5, 1.0 + 0.6 * level + 0.1 * offset),
                        visqol_audio=min(4.7, 1.5 + 0.5 * level),
                        lsd=max(0.3, 4.0 - 0.5 * level),
                    )
                    for name in METRICS:
                        row[f"{name}_reason"] = ""
                    if domain == "audio":
                        for name in ("stoi", "pesq_wb"):
                            row[name] = math.nan
                            row[f"{name}_reason"] = "not_applicable"
                    else:
                        row["visqol_audio"] = math.nan
                        row["visqol_audio_reason"] = "not_applicable"
                    if ci == 0 and domain == "speech" and codec == "opus":
                        row["pesq_wb"] = math.nan
                        row["pesq_wb_reason"] = "no_utterance"
                    if codec == "mp3" and target == 16.0 and ci == 1:
                        row.update(status="error", error="mp3 encoder <failed> & stopped")
                        row.update(actual_kbps=math.nan, bytes=0)
                        for name in METRICS:
                            row[name] = math.nan
                            row[f"{name}_reason"] = "error"
                    rows.append(row)
            lossless = _row(dataset, domain, clip, "flac", math.nan)
            lossless.update(actual_kbps=350.0, bytes=218750, duration_s=5.0)
            perfect = {
                "snr": math.inf,
                "si_sdr": math.inf,
                "stoi": 1.0,
                "pesq_wb": 4.64,
                "visqol_audio": 4.73,
                "lsd": 0.0,
            }
            for name, info in METRICS.items():
                applies = info.applies_to(domain)
                lossless[name] = perfect[name] if applies else math.nan
                lossless[f"{name}_reason"] = "" if applies else "not_applicable"
            rows.append(lossless)
    return pd.DataFrame(rows)


RUN_META: dict[str, object] = {
    "schema_version": 1,
    "command": ["run_bench.py", "--codecs", "all", "--limit", "4"],
    "started_at": "2026-01-02T03:04:05+00:00",
    "versions": {"namc-bench": "0.1.0", "libopus": "libopus 1.5.2"},
    "machine": {"hostname": "<img src=x onerror=alert(1)>", "cpus": 2},
    "datasets": {"esc50": {"path": "/data/esc50"}, "librispeech": {"path": "/data/ls"}},
    "codecs": {"namc": {"version": "1"}, "opus": {"version": "1.5.2"}},
}


def render_examples(out_dir: Path, results: pd.DataFrame, per_dataset: int = 1) -> list:
    """Do the runner's part for the listening examples: write a short real WAV file for the
    original and every requested point (a different tone each), return RenderedExamples."""
    from bench.audio import Audio, save_audio
    from bench.report.examples import RenderedExample, example_path, select_examples

    rendered = []
    t = np.arange(4800) / 16000.0
    for request in select_examples(results, per_dataset=per_dataset):
        original = example_path(out_dir, request.dataset, request.clip_id, None, None)
        save_audio(original, Audio(0.3 * np.sin(2 * np.pi * 440 * t), 16000))
        decoded = {}
        for i, point in enumerate(request.points):
            path = example_path(
                out_dir, request.dataset, request.clip_id, point.codec, point.target_kbps
            )
            save_audio(path, Audio(0.3 * np.sin(2 * np.pi * (500 + 60 * i) * t), 16000))
            decoded[point] = path
        rendered.append(RenderedExample(request, original, decoded))
    return rendered
