"""Rate-distortion plots: metric against measured kbps (log axis), one line per codec.

Drawn with matplotlib's object API (no pyplot, no global backend switch, safe in a worker) and
saved as SVG files with text converted to paths, so nothing from the data becomes markup in the
file; the page shows them through ``<img>``, where an SVG can run no script anyway.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from bench.fsutil import atomic_write_bytes
from bench.report.info import MetricInfo

#: Folder (inside the run's output folder) that holds the plots.
PLOTS_DIR = "plots"

#: Classic codecs cycle through these (tab10 without its red, which marks neural codecs).
_CLASSIC_COLORS = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)
_NEURAL_COLORS = ("#d62728", "#000000", "#6a0dad")
_TICKS = (1, 1.5, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 320, 512, 1024)


@dataclass(frozen=True)
class PlotFile:
    """One written plot: ``path`` is relative to the run's output folder (POSIX form)."""

    dataset: str
    metric: str
    path: str


def codec_styles(codecs: list[str], neural: set[str]) -> dict[str, dict[str, object]]:
    """A fixed colour/marker per codec so a codec looks the same in every plot of a report."""
    styles: dict[str, dict[str, object]] = {}
    classic = [c for c in sorted(codecs) if c not in neural]
    for i, codec in enumerate(sorted(c for c in codecs if c in neural)):
        styles[codec] = {
            "color": _NEURAL_COLORS[i % len(_NEURAL_COLORS)],
            "marker": "*",
            "markersize": 11,
            "linewidth": 2.6,
            "linestyle": "-",
            "zorder": 5,
        }
    for i, codec in enumerate(classic):
        styles[codec] = {
            "color": _CLASSIC_COLORS[i % len(_CLASSIC_COLORS)],
            "marker": "os^Dv<>ph"[i % 9],
            "markersize": 5,
            "linewidth": 1.4,
            "linestyle": "--" if i >= len(_CLASSIC_COLORS) else "-",
            "zorder": 3,
        }
    return styles


def safe_label(text: object, limit: int = 48) -> str:
    """Text from data made inert for matplotlib: no mathtext (``$`` escaped), no control
    characters, not hidden from the legend (a leading ``_`` would be), at most ``limit`` chars."""
    label = re.sub(r"[\x00-\x1f\x7f]+", " ", str(text)).strip()
    if len(label) > limit:
        label = label[: limit - 1] + "…"
    label = label.replace("\\", "\\\\").replace("$", r"\$")
    if not label or label.startswith("_"):
        label = "\u200b" + label
    return label


def plot_file_name(dataset: str, metric: str) -> str:
    """``plots/rd-<12 hex>.svg``: hash-based, so data never reaches the file system."""
    digest = hashlib.sha256(f"rd\0{dataset}\0{metric}".encode("utf-8", "surrogatepass"))
    return f"{PLOTS_DIR}/rd-{digest.hexdigest()[:12]}.svg"


def render_rd_svg(
    points: pd.DataFrame,
    info: MetricInfo,
    title: str,
    styles: Mapping[str, Mapping[str, object]],
) -> bytes:
    """SVG bytes of one rate-distortion plot from :func:`bench.report.matching.rd_points` rows
    of one dataset and metric. Error bars: 95 % CI of the mean; dotted verticals: the measured
    rates of the neural operating points (where the matched tables compare)."""
    import matplotlib
    from matplotlib.figure import Figure
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

    with matplotlib.rc_context({"svg.fonttype": "path", "svg.hashsalt": "namc-bench"}):
        # Fixed margins: constrained layout would double the drawing time of every plot.
        fig = Figure(figsize=(6.4, 4.2), dpi=100)
        fig.subplots_adjust(left=0.12, right=0.97, bottom=0.12, top=0.92)
        ax = fig.add_subplot()
        rates = points["kbps"].to_numpy(dtype=np.float64)
        for codec, rows in points.groupby("codec", sort=True):
            rows = rows.sort_values("kbps")
            style = dict(styles.get(str(codec), {}))
            neural = bool(rows["neural"].iloc[0])
            name = safe_label(codec) + (" (neural)" if neural else "")
            yerr = np.nan_to_num(rows["ci95"].to_numpy(dtype=np.float64), nan=0.0)
            ax.errorbar(
                rows["kbps"].to_numpy(dtype=np.float64),
                rows["quality"].to_numpy(dtype=np.float64),
                yerr=yerr,
                label=name,
                capsize=3,
                elinewidth=1,
                **style,  # type: ignore[arg-type]
            )
            if neural:
                for rate in rows["kbps"]:
                    ax.axvline(float(rate), color=str(style.get("color")), lw=0.6, ls=":", zorder=1)
        ax.set_xscale("log")
        finite = rates[np.isfinite(rates) & (rates > 0)]
        if finite.size:
            low, high = float(finite.min()), float(finite.max())
            ticks = [t for t in _TICKS if low / 1.6 <= t <= high * 1.6]
            ax.xaxis.set_major_locator(FixedLocator(ticks or [low, high]))
            ax.xaxis.set_minor_locator(NullLocator())
            ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
            ax.set_xlim(low / 1.15, high * 1.15)
        arrow = "↑" if info.higher_is_better else "↓"
        ax.set_xlabel("measured bitrate (kbps, log scale)")
        ax.set_ylabel(f"{safe_label(info.label())}  {arrow} {info.direction()}")
        ax.set_title(safe_label(title, 80), fontsize=11)
        ax.grid(True, which="major", alpha=0.3)
        if len(points):
            ax.legend(fontsize=8, loc="best", framealpha=0.85)
        buffer = io.BytesIO()
        fig.savefig(buffer, format="svg", metadata={"Date": None})
    return buffer.getvalue()


def warm_up() -> None:
    """Import matplotlib and draw one throw-away plot (fonts, glyph cache, SVG backend): about
    0.3 s that the first real plot would otherwise pay. The runner calls it in a background
    thread while the workers compute, and waits for it before drawing anything else (matplotlib
    is not thread-safe)."""
    points = pd.DataFrame(
        {"codec": ["a", "a"], "kbps": [8.0, 16.0], "quality": [1.0, 2.0], "ci95": [0.1, 0.1],
         "neural": [False, False]}
    )  # fmt: skip
    render_rd_svg(points, MetricInfo("warm-up", True, "dB"), "warm-up", codec_styles(["a"], set()))


def _plot_key(rows: pd.DataFrame, info: MetricInfo, title: str, styles: Mapping) -> str:
    """Hash of everything that shapes one plot: its data, labels, styles, matplotlib's version
    and this module's own code."""
    import matplotlib

    digest = hashlib.sha256()
    digest.update(_code_digest())
    digest.update(f"{matplotlib.__version__}\0{info!r}\0{title}\0".encode("utf-8", "replace"))
    used = sorted(str(c) for c in rows["codec"].unique())
    digest.update(repr([(c, sorted(dict(styles.get(c, {})).items())) for c in used]).encode())
    # Columns, dtypes and every value's bytes (pandas' own row hashes: a tenth of to_csv's cost).
    digest.update(repr([(str(c), str(t)) for c, t in rows.dtypes.items()]).encode())
    digest.update(pd.util.hash_pandas_object(rows, index=False).to_numpy().tobytes())
    return digest.hexdigest()


@lru_cache(maxsize=1)
def _code_digest() -> bytes:
    """This module's source, hashed once per process (it shapes every plot)."""
    return hashlib.sha256(Path(__file__).read_bytes()).digest()


def write_rd_plots(
    out_dir: str | os.PathLike[str],
    points: pd.DataFrame,
    metrics: Mapping[str, MetricInfo],
    codecs: list[str],
    neural: set[str],
    cache_dir: str | os.PathLike[str] | None = None,
) -> list[PlotFile]:
    """Write one SVG per (dataset, metric) present in ``points`` (from ``rd_points``) into
    ``out_dir/plots/`` atomically; returns them in ``points`` order.

    With ``cache_dir``, a plot whose inputs are unchanged since an earlier run is copied from
    there instead of drawn again (the SVG is deterministic), so a re-run from the results store
    does not pay for matplotlib."""
    styles = codec_styles(codecs, neural)
    written: list[PlotFile] = []
    for (dataset, metric), rows in points.groupby(["dataset", "metric"], sort=False):
        finite = rows[np.isfinite(rows["quality"].to_numpy(dtype=np.float64))]
        if finite.empty:
            continue
        info = metrics[str(metric)]
        title = f"{dataset} - {metric}"
        cached = None
        if cache_dir is not None:
            cached = Path(cache_dir) / f"{_plot_key(finite, info, title, styles)}.svg"
        if cached is not None and cached.is_file():
            svg = cached.read_bytes()
        else:
            svg = render_rd_svg(finite, info, title, styles)
            if cached is not None:
                atomic_write_bytes(cached, svg)
        name = plot_file_name(str(dataset), str(metric))
        atomic_write_bytes(Path(out_dir) / name, svg)
        written.append(PlotFile(str(dataset), str(metric), name))
    return written
