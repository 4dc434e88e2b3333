"""SVG plots of a listening test: ratings per condition, per item, and MUSHRA against metrics.

Drawn with matplotlib's object API (no pyplot), text as paths, labels from data through
:func:`~bench.report.plots.safe_label` (no mathtext), file names from a hash so no data reaches
the file system, written atomically. (The run report's rate-distortion plots use the suite's
own SVG writer instead, for speed; these are drawn once per listening test.)
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from bench.fsutil import atomic_write_bytes
from bench.mushra.answers import Key
from bench.report.plots import safe_label

PLOTS_DIR = "plots"

_KIND_COLORS = {
    "reference": "#2ca02c",
    "anchor_lp70": "#7f7f7f",
    "anchor_lp35": "#444444",
}
_CODEC_COLORS = ("#1f77b4", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22")


def plot_name(kind: str, *parts: str) -> str:
    """``plots/mushra-<kind>-<12 hex>.svg`` from a hash of ``parts``."""
    digest = hashlib.sha256("\0".join((kind, *parts)).encode("utf-8", "surrogatepass"))
    return f"{PLOTS_DIR}/mushra-{kind}-{digest.hexdigest()[:12]}.svg"


def colors(key: Key, order: list[str]) -> dict[str, str]:
    """A fixed colour per condition: green reference, greys anchors, a palette for codecs."""
    out, i = {}, 0
    for cid in order:
        kind = key.conditions[cid].kind
        if kind in _KIND_COLORS:
            out[cid] = _KIND_COLORS[kind]
        else:
            out[cid] = _CODEC_COLORS[i % len(_CODEC_COLORS)]
            i += 1
    return out


def _figure(width: float, height: float):  # type: ignore[no-untyped-def]
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100)
    return fig


def _save(fig) -> bytes:  # type: ignore[no-untyped-def]
    buffer = io.BytesIO()
    fig.savefig(buffer, format="svg", metadata={"Date": None})
    return buffer.getvalue()


def _quality_axis(ax) -> None:  # type: ignore[no-untyped-def]
    ax.set_ylim(-2, 102)
    ax.set_yticks([0, 20, 40, 60, 80, 100])
    for level in (20, 40, 60, 80):
        ax.axhline(level, color="#cccccc", lw=0.6, zorder=0)
    ax.set_ylabel("MUSHRA score (0 bad, 100 excellent)")


def conditions_svg(ratings: pd.DataFrame, per_condition: pd.DataFrame, key: Key) -> bytes:
    """Box plot per condition (box: Q1-Q3 by the recommendation's quartiles, whiskers 1.5 IQR)
    with the mean and its 95 % CI drawn beside each box."""
    import matplotlib

    order = [str(c) for c in per_condition["condition_id"]]
    palette = colors(key, order)
    with matplotlib.rc_context({"svg.fonttype": "path", "svg.hashsalt": "namc-bench"}):
        fig = _figure(max(6.4, 0.75 * len(order) + 2), 4.6)
        fig.subplots_adjust(left=0.1, right=0.98, bottom=0.24, top=0.92)
        ax = fig.add_subplot()
        stats = []
        for row in per_condition.itertuples():
            values = ratings.loc[ratings["condition_id"] == row.condition_id, "rating"]
            v = values.to_numpy(dtype=np.float64)
            low = v[v >= row.q1 - 1.5 * row.iqr]
            high = v[v <= row.q3 + 1.5 * row.iqr]
            stats.append(
                {
                    "med": row.median,
                    "q1": row.q1,
                    "q3": row.q3,
                    "whislo": float(low.min()) if low.size else row.q1,
                    "whishi": float(high.max()) if high.size else row.q3,
                    "fliers": v[(v < row.q1 - 1.5 * row.iqr) | (v > row.q3 + 1.5 * row.iqr)],
                    "label": safe_label(row.label, 28),
                }
            )
        positions = np.arange(len(order), dtype=np.float64)
        boxes = ax.bxp(stats, positions=positions - 0.12, widths=0.4, patch_artist=True)
        for patch, cid in zip(boxes["boxes"], order, strict=True):
            patch.set_facecolor(palette[cid])
            patch.set_alpha(0.45)
        means = per_condition["mean"].to_numpy(dtype=np.float64)
        err = np.nan_to_num(per_condition["ci95"].to_numpy(dtype=np.float64), nan=0.0)
        ax.errorbar(
            positions + 0.25,
            means,
            yerr=err,
            fmt="D",
            color="black",
            ms=4,
            capsize=3,
            label="mean ± 95 % CI",
        )
        ax.set_xticks(positions)
        ax.set_xticklabels([s["label"] for s in stats], rotation=35, ha="right", fontsize=8)
        _quality_axis(ax)
        ax.set_title("Ratings per condition (box: median and IQR)", fontsize=11)
        ax.legend(fontsize=8, loc="lower left")
        return _save(fig)


def items_svg(per_item: pd.DataFrame, key: Key, order: list[str]) -> bytes:
    """Mean and 95 % CI of each condition on each item."""
    import matplotlib

    items = sorted(set(per_item["item_id"].astype(str)))
    palette = colors(key, order)
    with matplotlib.rc_context({"svg.fonttype": "path", "svg.hashsalt": "namc-bench"}):
        fig = _figure(max(6.4, 0.75 * len(items) + 2.5), 4.2)
        fig.subplots_adjust(left=0.09, right=0.78, bottom=0.2, top=0.92)
        ax = fig.add_subplot()
        width = 0.8 / max(1, len(order))
        for j, cid in enumerate(order):
            rows = per_item[per_item["condition_id"] == cid].set_index("item_id").reindex(items)
            x = np.arange(len(items)) - 0.4 + width * (j + 0.5)
            ax.errorbar(
                x,
                rows["mean"].to_numpy(dtype=np.float64),
                yerr=np.nan_to_num(rows["ci95"].to_numpy(dtype=np.float64), nan=0.0),
                fmt="o",
                ms=4,
                capsize=2,
                color=palette[cid],
                label=safe_label(key.conditions[cid].label, 28),
            )
        ax.set_xticks(np.arange(len(items)))
        ax.set_xticklabels([safe_label(i, 24) for i in items], rotation=35, ha="right", fontsize=8)
        _quality_axis(ax)
        ax.set_title("Mean ± 95 % CI per item", fontsize=11)
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
        return _save(fig)


def scatter_svg(
    scores: pd.DataFrame, metric: str, row: Mapping[str, object], key: Key, order: list[str]
) -> bytes:
    """MUSHRA mean per stimulus against one objective metric; the stimuli that entered the
    correlation are filled, the others hollow."""
    import matplotlib

    palette = colors(key, order)
    column = f"objective:{metric}"
    used = str(row.get("conditions", "codecs"))
    with matplotlib.rc_context({"svg.fonttype": "path", "svg.hashsalt": "namc-bench"}):
        fig = _figure(6.4, 4.4)
        fig.subplots_adjust(left=0.11, right=0.72, bottom=0.12, top=0.9)
        ax = fig.add_subplot()
        for cid in order:
            part = scores[scores["condition_id"] == cid]
            x = part[column].to_numpy(dtype=np.float64)
            keep = np.isfinite(x)
            if not keep.any():
                continue
            inside = used == "all" or key.conditions[cid].kind == "codec"
            ax.scatter(
                x[keep],
                part["mushra_mean"].to_numpy(dtype=np.float64)[keep],
                s=26,
                color=palette[cid] if inside else "none",
                edgecolors=palette[cid],
                label=safe_label(key.conditions[cid].label, 28),
            )
        r, rho, n = row.get("pearson_r"), row.get("spearman_rho"), row.get("n")
        text = f"Pearson r = {float(r):.2f}, Spearman ρ = {float(rho):.2f}, N = {n}"  # type: ignore[arg-type]
        ax.set_title(safe_label(f"{metric}: {text}", 90), fontsize=10)
        ax.set_xlabel(safe_label(metric))
        _quality_axis(ax)
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
        return _save(fig)


def write(out_dir: str | os.PathLike[str], name: str, svg: bytes) -> str:
    """Write one plot atomically; returns its path relative to ``out_dir``."""
    atomic_write_bytes(Path(out_dir) / name, svg)
    return name
