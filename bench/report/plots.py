"""Rate-distortion plots: metric against measured kbps (log axis), one line per codec.

Written as SVG by a small writer of this module (no matplotlib: its import and drawing were
most of a small run's fixed costs). Every number is formatted with a fixed precision, so the
same data gives the same bytes; every text from data goes through :func:`svg_text` (control
and non-XML characters dropped, XML-escaped), so nothing from the data becomes markup. The
page shows the plots through ``<img>``, where an SVG can run no script anyway.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from xml.sax.saxutils import escape

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

# Geometry in SVG user units (px at 96 dpi: 640 x 420, the size of the former 6.4 x 4.2 inch
# figure at 100 dpi). Sizes given in points (marker sizes, line widths) scale by _PT.
_WIDTH, _HEIGHT = 640.0, 420.0
_LEFT, _RIGHT, _TOP, _BOTTOM = 76.8, 620.8, 33.6, 369.6
_PT = 100.0 / 72.0
_FONT = "DejaVu Sans,Bitstream Vera Sans,Arial,Helvetica,sans-serif"
# Characters XML 1.0 does not allow in a document at all (escaping cannot help them).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


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
    """Text from data made inert for matplotlib (the MUSHRA analysis plots): no mathtext (``$``
    escaped), no control characters, not hidden from the legend (a leading ``_`` would be), at
    most ``limit`` chars."""
    label = re.sub(r"[\x00-\x1f\x7f]+", " ", str(text)).strip()
    if len(label) > limit:
        label = label[: limit - 1] + "…"
    label = label.replace("\\", "\\\\").replace("$", r"\$")
    if not label or label.startswith("_"):
        label = "\u200b" + label
    return label


def svg_text(text: object, limit: int = 48) -> str:
    """Text from data as the character data of an SVG ``<text>`` (or an attribute value): control
    and other non-XML characters become spaces, at most ``limit`` characters, then XML-escaped
    (``& < >`` and both quotes), so it can never become markup."""
    label = _NOT_XML.sub(" ", re.sub(r"[\x00-\x1f\x7f]+", " ", str(text))).strip()
    if len(label) > limit:
        label = label[: limit - 1] + "…"
    return escape(label, {'"': "&quot;", "'": "&apos;"})


def plot_file_name(dataset: str, metric: str) -> str:
    """``plots/rd-<12 hex>.svg``: hash-based, so data never reaches the file system."""
    digest = hashlib.sha256(f"rd\0{dataset}\0{metric}".encode("utf-8", "surrogatepass"))
    return f"{PLOTS_DIR}/rd-{digest.hexdigest()[:12]}.svg"


def _num(value: float) -> str:
    """A coordinate with two decimals, no ``-0``: the same value always gives the same text."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _y_ticks(low: float, high: float) -> tuple[list[float], int]:
    """About 4-8 round ticks covering [low, high] (steps 1, 2, 2.5, 5 x 10^k) and the decimals
    their labels need."""
    span = high - low
    raw = span / 6.0
    exponent = math.floor(math.log10(raw))
    for mantissa in (1.0, 2.0, 2.5, 5.0, 10.0):
        step = mantissa * 10.0**exponent
        if span / step <= 8.0:
            break
    first = math.ceil(low / step - 1e-9)
    ticks = []
    k = first
    while k * step <= high + step * 1e-9:
        ticks.append(k * step)
        k += 1
    decimals = max(0, -math.floor(math.log10(step) + 1e-9) + (1 if mantissa == 2.5 else 0))
    return ticks, decimals


def _marker(marker: str, x: float, y: float, size: float, color: str) -> str:
    """One marker of ``size`` points (matplotlib's meaning: the marker's width) at (x, y)."""
    r = size * _PT / 2.0
    fill = f'fill="{color}" stroke="{color}" stroke-width="0.8"'
    if marker == "o":
        return f'<circle cx="{_num(x)}" cy="{_num(y)}" r="{_num(r)}" {fill}/>'
    if marker == "s":
        s = r * 0.9
        return (
            f'<rect x="{_num(x - s)}" y="{_num(y - s)}" width="{_num(2 * s)}" '
            f'height="{_num(2 * s)}" {fill}/>'
        )
    # Polygons: (angle of the first vertex in degrees, vertices, inner radius ratio for a star).
    shapes = {
        "^": (-90, 3, None),
        "v": (90, 3, None),
        "<": (180, 3, None),
        ">": (0, 3, None),
        "D": (-90, 4, None),
        "p": (-90, 5, None),
        "h": (-90, 6, None),
        "*": (-90, 5, 0.382),
    }
    start, count, inner = shapes.get(marker, (-90, 4, None))
    corners = []
    steps = count * 2 if inner else count
    for i in range(steps):
        radius = r * (inner if inner and i % 2 else 1.0)
        angle = math.radians(start + 360.0 * i / steps)
        corners.append(f"{_num(x + radius * math.cos(angle))},{_num(y + radius * math.sin(angle))}")
    return f'<polygon points="{" ".join(corners)}" {fill}/>'


def _line(x1: float, y1: float, x2: float, y2: float, extra: str = "") -> str:
    """A ``<line>`` element (its stroke from ``extra`` or the enclosing group)."""
    return f'<line x1="{_num(x1)}" y1="{_num(y1)}" x2="{_num(x2)}" y2="{_num(y2)}"{extra}/>'


def _text(
    x: float, y: float, text: str, size: float, anchor: str = "middle", extra: str = ""
) -> str:
    """A ``<text>`` element; ``text`` must already be escaped (:func:`svg_text`)."""
    return (
        f'<text x="{_num(x)}" y="{_num(y)}" font-size="{_num(size * _PT)}" '
        f'text-anchor="{anchor}"{extra}>{text}</text>'
    )


def render_rd_svg(
    points: pd.DataFrame,
    info: MetricInfo,
    title: str,
    styles: Mapping[str, Mapping[str, object]],
) -> bytes:
    """SVG bytes of one rate-distortion plot from :func:`bench.report.matching.rd_points` rows
    of one dataset and metric. Error bars: 95 % CI of the mean; dotted verticals: the measured
    rates of the neural operating points (where the matched tables compare). Points without a
    finite positive rate or a finite quality cannot sit on the axes and are left out."""
    return _render_svg(_PlotData.of(points), info, title, styles)


@dataclass(frozen=True)
class _PlotData:
    """The columns of rd_points rows a plot draws, as arrays (``ci``: the 95 % CI half-width,
    NaN and +inf read as no error bar, made non-negative)."""

    codec: np.ndarray
    neural: np.ndarray
    kbps: np.ndarray
    quality: np.ndarray
    ci: np.ndarray

    @classmethod
    def of(cls, points: pd.DataFrame) -> _PlotData:
        """The arrays of a whole rd_points table (read once, then :meth:`take` per plot)."""
        return cls(
            points["codec"].astype(str).to_numpy(),
            points["neural"].astype(bool).to_numpy(),
            points["kbps"].to_numpy(dtype=np.float64),
            points["quality"].to_numpy(dtype=np.float64),
            np.abs(np.nan_to_num(points["ci95"].to_numpy(dtype=np.float64), nan=0.0, posinf=0.0)),
        )

    def take(self, index: np.ndarray) -> _PlotData:
        """The rows at ``index`` (positions or a boolean mask), in that order."""
        return _PlotData(
            self.codec[index],
            self.neural[index],
            self.kbps[index],
            self.quality[index],
            self.ci[index],
        )

    def drawable(self) -> _PlotData:
        """The points that can sit on the axes: finite positive rate, finite quality."""
        return self.take(np.isfinite(self.kbps) & (self.kbps > 0) & np.isfinite(self.quality))


def _render_svg(
    data: _PlotData,
    info: MetricInfo,
    title: str,
    styles: Mapping[str, Mapping[str, object]],
) -> bytes:
    """:func:`render_rd_svg` on arrays (the plot loop of :func:`write_rd_plots` calls this, so
    no frame is built, filtered or sorted per plot and codec)."""
    data = data.drawable()
    # Python floats and strings from here on: the same numbers as the arrays' elements, at a
    # fraction of the cost of numpy scalars in the per-point formatting below.
    codec_of, neural_of = data.codec.tolist(), data.neural.tolist()
    kbps, quality, ci = data.kbps.tolist(), data.quality.tolist(), data.ci.tolist()
    # codec -> its point positions, by rising rate (ties in table order: a stable sort).
    by_codec: dict[str, list[int]] = {}
    for i, codec in enumerate(codec_of):
        by_codec.setdefault(codec, []).append(i)
    for positions in by_codec.values():
        positions.sort(key=lambda i: kbps[i])
    out: list[str] = [
        '<?xml version="1.0" encoding="utf-8" standalone="no"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_num(_WIDTH)}" '
        f'height="{_num(_HEIGHT)}" viewBox="0 0 {_num(_WIDTH)} {_num(_HEIGHT)}" '
        f'font-family="{_FONT}" fill="#000000">',
        f'<rect width="{_num(_WIDTH)}" height="{_num(_HEIGHT)}" fill="#ffffff"/>',
    ]
    arrow = "↑" if info.higher_is_better else "↓"
    ylabel = f"{svg_text(info.label())}  {arrow} {escape(info.direction())}"
    if kbps:
        low, high = min(kbps), max(kbps)
        if high <= low:
            low, high = low / 1.5, high * 1.5
        x_low, x_high = math.log(low / 1.15), math.log(high * 1.15)
        y_min = min(q - c for q, c in zip(quality, ci, strict=True))
        y_max = max(q + c for q, c in zip(quality, ci, strict=True))
        if y_max - y_min <= 1e-12 * max(1.0, abs(y_max)):
            pad = max(abs(y_max) * 0.05, 0.05)
        else:
            pad = (y_max - y_min) * 0.05
        y_low, y_high = y_min - pad, y_max + pad

        def px(rate: float) -> float:
            return _LEFT + (math.log(rate) - x_low) / (x_high - x_low) * (_RIGHT - _LEFT)

        def py(value: float) -> float:
            return _BOTTOM - (value - y_low) / (y_high - y_low) * (_BOTTOM - _TOP)

        # Grid and ticks (drawn first, under the data).
        xticks = [t for t in _TICKS if low / 1.6 <= t <= high * 1.6]
        xticks = [t for t in (xticks or [low, high]) if low / 1.15 <= t <= high * 1.15]
        yticks, decimals = _y_ticks(y_low, y_high)
        out.append('<g stroke="#b0b0b0" stroke-opacity="0.3" stroke-width="1.1">')
        for t in xticks:
            out.append(_line(px(t), _TOP, px(t), _BOTTOM))
        for t in yticks:
            out.append(_line(_LEFT, py(t), _RIGHT, py(t)))
        out.append("</g>")
        out.append('<g stroke="#000000" stroke-width="1.1">')
        for t in xticks:
            out.append(_line(px(t), _BOTTOM, px(t), _BOTTOM + 4.9))
        for t in yticks:
            out.append(_line(_LEFT - 4.9, py(t), _LEFT, py(t)))
        out.append("</g>")
        for t in xticks:
            out.append(_text(px(t), _BOTTOM + 19.0, f"{t:g}", 10))
        for t in yticks:
            label = f"{t:.{decimals}f}"
            label = "0" if float(label) == 0 else label.replace("-", "−")
            out.append(_text(_LEFT - 8.0, py(t) + 4.5, label, 10, "end"))

        # One line per codec; neural codecs on top (their style's zorder), with their rates.
        codecs = sorted(by_codec)
        order = sorted(codecs, key=lambda c: (float(styles.get(c, {}).get("zorder", 3)), c))  # type: ignore[arg-type]
        out.append(
            f'<clipPath id="area"><rect x="{_num(_LEFT)}" y="{_num(_TOP)}" '
            f'width="{_num(_RIGHT - _LEFT)}" height="{_num(_BOTTOM - _TOP)}"/></clipPath>'
        )
        out.append('<g clip-path="url(#area)">')
        for codec in order:
            rows = by_codec[codec]
            style = styles.get(codec, {})
            color = str(style.get("color", "#1f77b4"))
            if neural_of[rows[0]]:  # the flag of its lowest-rate point
                for rate in (kbps[i] for i in rows):
                    out.append(
                        f'<line x1="{_num(px(rate))}" y1="{_num(_TOP)}" x2="{_num(px(rate))}" '
                        f'y2="{_num(_BOTTOM)}" stroke="{color}" stroke-width="{_num(0.6 * _PT)}" '
                        f'stroke-dasharray="{_num(0.6 * _PT)},{_num(1.0 * _PT)}"/>'
                    )
        for codec in order:
            rows = by_codec[codec]
            style = styles.get(codec, {})
            color = str(style.get("color", "#1f77b4"))
            width = float(style.get("linewidth", 1.5)) * _PT  # type: ignore[arg-type]
            dash = ' stroke-dasharray="5.1,2.2"' if style.get("linestyle") == "--" else ""
            xs = [px(kbps[i]) for i in rows]
            ys = [py(quality[i]) for i in rows]
            out.append(f'<g stroke="{color}" stroke-width="{_num(1.0 * _PT)}">')
            cap = 3.0 * _PT
            for x, q, c in zip(xs, (quality[i] for i in rows), (ci[i] for i in rows), strict=True):
                if c > 0:
                    top, bottom = py(q + c), py(q - c)
                    out.append(_line(x, top, x, bottom))
                    for yc in (top, bottom):
                        out.append(_line(x - cap, yc, x + cap, yc))
            out.append("</g>")
            coords = " ".join(f"{_num(x)},{_num(y)}" for x, y in zip(xs, ys, strict=True))
            out.append(
                f'<polyline points="{coords}" fill="none" stroke="{color}" '
                f'stroke-width="{_num(width)}" stroke-linejoin="round"{dash}/>'
            )
            marker, size = str(style.get("marker", "o")), float(style.get("markersize", 6))  # type: ignore[arg-type]
            out.extend(_marker(marker, x, y, size, color) for x, y in zip(xs, ys, strict=True))
        out.append("</g>")

        # Legend: in the corner of the axes that covers the fewest points.
        names = []
        for codec in codecs:
            neural = neural_of[codec_of.index(codec)]  # the flag of its first point in the table
            names.append((codec, svg_text(codec) + (" (neural)" if neural else "")))
        font = 8 * _PT
        longest = max(len(_unescaped_len(n)) for _, n in names)
        box_w = 40.0 + longest * font * 0.6
        box_h = 8.0 + len(names) * font * 1.35
        pts = [(px(r), py(q)) for r, q in zip(kbps, quality, strict=True)]
        corners = [
            (_RIGHT - box_w - 6, _TOP + 6),
            (_LEFT + 6, _TOP + 6),
            (_LEFT + 6, _BOTTOM - box_h - 6),
            (_RIGHT - box_w - 6, _BOTTOM - box_h - 6),
        ]

        def covered(corner: tuple[float, float]) -> int:
            bx, by = corner
            return sum(bx <= x <= bx + box_w and by <= y <= by + box_h for x, y in pts)

        bx, by = min(corners, key=covered)
        out.append(
            f'<rect x="{_num(bx)}" y="{_num(by)}" width="{_num(box_w)}" height="{_num(box_h)}" '
            'rx="2.8" fill="#ffffff" fill-opacity="0.85" stroke="#cccccc"/>'
        )
        for i, (codec, name) in enumerate(names):
            style = styles.get(codec, {})
            color = str(style.get("color", "#1f77b4"))
            y = by + 4.0 + font * 1.35 * (i + 0.5)
            dash = ' stroke-dasharray="5.1,2.2"' if style.get("linestyle") == "--" else ""
            width = float(style.get("linewidth", 1.5)) * _PT  # type: ignore[arg-type]
            out.append(
                f'<line x1="{_num(bx + 6)}" y1="{_num(y)}" x2="{_num(bx + 32)}" y2="{_num(y)}" '
                f'stroke="{color}" stroke-width="{_num(width)}"{dash}/>'
            )
            size = min(float(style.get("markersize", 6)), 9.0)  # type: ignore[arg-type]
            out.append(_marker(str(style.get("marker", "o")), bx + 19, y, size, color))
            out.append(_text(bx + 38, y + font * 0.35, name, 8, "start"))
    # Frame, labels, title.
    out.append(
        f'<rect x="{_num(_LEFT)}" y="{_num(_TOP)}" width="{_num(_RIGHT - _LEFT)}" '
        f'height="{_num(_BOTTOM - _TOP)}" fill="none" stroke="#000000" stroke-width="1.1"/>'
    )
    out.append(
        _text((_LEFT + _RIGHT) / 2, _HEIGHT - 12.0, "measured bitrate (kbps, log scale)", 10)
    )
    mid = (_TOP + _BOTTOM) / 2
    out.append(_text(20.0, mid, ylabel, 10, "middle", f' transform="rotate(-90 20 {_num(mid)})"'))
    out.append(_text((_LEFT + _RIGHT) / 2, _TOP - 9.0, svg_text(title, 80), 11))
    if not kbps:
        out.append(_text((_LEFT + _RIGHT) / 2, mid, "no point with a finite rate", 10))
    out.append("</svg>\n")
    return "\n".join(out).encode("utf-8")


def _unescaped_len(text: str) -> str:
    """The text an escaped label shows (for the legend's width)."""
    return re.sub(r"&[a-z]+;", "x", text)


def _plot_key(
    codecs: list[str],
    dtypes: str,
    row_hashes: np.ndarray,
    info: MetricInfo,
    title: str,
    styles: Mapping,
) -> str:
    """Hash of everything that shapes one plot: its data (its rows' ``codecs``, the table's
    ``dtypes`` text and its rows' pandas hashes, see :func:`_row_hashes`), labels, styles and
    this module's own code (the SVG writer)."""
    digest = hashlib.sha256()
    digest.update(_code_digest())
    digest.update(f"{info!r}\0{title}\0".encode("utf-8", "replace"))
    used = sorted(set(codecs))
    digest.update(repr([(c, sorted(dict(styles.get(c, {})).items())) for c in used]).encode())
    digest.update(dtypes.encode())
    digest.update(row_hashes.tobytes())
    return digest.hexdigest()


def _row_hashes(points: pd.DataFrame) -> tuple[str, np.ndarray]:
    """The text of ``points``' columns and dtypes and each row's hash of every value (pandas' own
    row hashes: a tenth of to_csv's cost). A row's hash depends on its own values only, so the
    table is hashed once per report and each plot takes its rows' hashes: the same key as
    hashing that plot's rows alone, without a hash_pandas_object call per plot."""
    dtypes = repr([(str(c), str(t)) for c, t in points.dtypes.items()])
    return dtypes, pd.util.hash_pandas_object(points, index=False).to_numpy()


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
    does not draw it again."""
    styles = codec_styles(codecs, neural)
    # The table read once as arrays and hashed once; each plot takes its rows with a finite
    # quality (a plot with none is not drawn).
    data = _PlotData.of(points)
    dtypes, hashes = _row_hashes(points) if cache_dir is not None else ("", np.empty(0))
    finite = np.isfinite(data.quality).tolist()
    groups: dict[tuple[str, str], list[int]] = {}  # in order of first appearance, as groupby's
    keys = zip(points["dataset"].astype(str), points["metric"].astype(str), strict=True)
    for i, key in enumerate(keys):
        members = groups.setdefault(key, [])
        if finite[i]:
            members.append(i)
    written: list[PlotFile] = []
    for (dataset, metric), index in groups.items():
        if not index:
            continue
        info = metrics[metric]
        title = f"{dataset} - {metric}"
        rows = data.take(np.array(index, dtype=np.intp))
        cached = None
        if cache_dir is not None:
            key = _plot_key(rows.codec.tolist(), dtypes, hashes[index], info, title, styles)
            cached = Path(cache_dir) / f"{key}.svg"
        if cached is not None and cached.is_file():
            svg = cached.read_bytes()
        else:
            svg = _render_svg(rows, info, title, styles)
            if cached is not None:
                atomic_write_bytes(cached, svg)
        name = plot_file_name(dataset, metric)
        atomic_write_bytes(Path(out_dir) / name, svg)
        written.append(PlotFile(dataset, metric, name))
    return written
