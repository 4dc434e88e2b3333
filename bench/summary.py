"""The one-screen summary printed at the end of a run."""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from typing import Any, TextIO

#: Headline metric per dataset domain, first one present wins.
HEADLINE = {
    "speech": ("pesq_wb", "visqol_speech", "stoi", "si_sdr", "snr"),
    "audio": ("visqol_audio", "mel_distance", "si_sdr", "snr"),
}


def _headline(results: Any, domain: str) -> str | None:
    for name in HEADLINE.get(domain, ("snr",)):
        if name in results.columns and results[name].notna().any():
            return name
    return None


def _fmt(value: float, digits: int = 2) -> str:
    return "-" if value is None or not math.isfinite(value) else f"{value:.{digits}f}"


def summary_lines(outcome: Any) -> list[str]:
    """The summary as lines of text (at most one screen for a typical run)."""
    results = outcome.results
    lines = [
        f"{outcome.points} points: {outcome.computed} computed, {outcome.cached} from the cache, "
        f"{outcome.failed} failed"
    ]
    for dataset, rows in results.groupby("dataset", sort=True):
        domain = str(rows["domain"].iloc[0])
        synthetic = " SYNTHETIC" if bool(rows["synthetic"].any()) else ""
        clips = rows["clip_id"].nunique()
        metric = _headline(rows, domain)
        lines.append("")
        lines.append(f"{dataset} ({clips} clips, {domain}{synthetic})")
        header = f"  {'codec':<12} {'kbps asked':>12} {'kbps measured':>15}"
        if metric:
            header += f" {metric + ' low..high':>22}"
        lines.append(header + f" {'failed':>7}")
        for codec, part in rows.groupby("codec", sort=True):
            ok = part[part["status"] == "ok"]
            points = ok.groupby("target_kbps", dropna=False)
            asked = sorted(k for k in part["target_kbps"].unique() if not _nan(k))
            asked_text = "lossless" if not asked else f"{asked[0]:g}..{asked[-1]:g}"
            if len(ok):
                measured = points["actual_kbps"].mean()
                rate_text = f"{measured.min():.1f}..{measured.max():.1f}"
            else:
                rate_text = "-"
            line = f"  {codec:<12} {asked_text:>12} {rate_text:>15}"
            if metric:
                if len(ok):
                    by_point = points[metric].mean().sort_index()
                    values = f"{_fmt(by_point.iloc[0])}..{_fmt(by_point.iloc[-1])}"
                else:
                    values = "-"
                line += f" {values:>22}"
            failed = int((part["status"] != "ok").sum())
            lines.append(line + f" {failed or '':>7}")
    failures = results[results["status"] != "ok"]
    if len(failures):
        lines.append("")
        lines.append(f"{len(failures)} failed points; most common errors:")
        groups = failures.groupby(["error_kind", "error"])["clip_id"]
        counts = groups.size().sort_values(ascending=False, kind="stable")
        for (kind, error), count in counts.head(5).items():
            # Stored errors do not name the file (results are keyed by content): say where.
            clips = groups.get_group((kind, error)).unique()
            where = _short(str(clips[0]), 40) + (f" +{len(clips) - 1}" if len(clips) > 1 else "")
            lines.append(f"  {count:>5} x [{kind}] {_short(str(error), 80)} ({where})")
    lines.append("")
    for name in ("index.html", "results.csv", "summary.csv", "run.json"):
        if name in outcome.files:
            lines.append(f"{name:>12}: {outcome.files[name]}")
    return lines


def _nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)


def _short(text: str, limit: int = 110) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def print_summary(outcome: Any, stream: TextIO | None = None) -> None:
    """Print :func:`summary_lines` to ``stream`` (stdout)."""
    out = stream if stream is not None else sys.stdout
    for line in summary_lines(outcome):
        print(line, file=out)


__all__: Sequence[str] = ("print_summary", "summary_lines")
