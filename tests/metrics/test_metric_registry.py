"""The metric registry: declared properties, name resolution, lazy imports, numba threads."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.errors import BenchError, UnknownNameError
from bench.metrics import (
    CHANNEL_RULES,
    DOMAINS,
    Metric,
    MetricResult,
    all_metrics,
    get_metric,
    register_metric,
    resolve_metrics,
)

ROOT = Path(__file__).resolve().parents[2]

#: name -> (rate, channel rule, domain, higher_is_better, unit)
EXPECTED = {
    "snr": (None, "all", "both", True, "dB"),
    "psnr": (None, "all", "both", True, "dB"),
    "si_sdr": (None, "all", "both", True, "dB"),
    "lsd": (None, "all", "both", False, "dB"),
    "mel_distance": (None, "all", "both", False, "dB"),
    "stoi": (10000, "mono", "speech", True, ""),
    "estoi": (10000, "mono", "speech", True, ""),
    "pesq_wb": (16000, "mono", "speech", True, "MOS-LQO"),
    "pesq_nb": (8000, "mono", "speech", True, "MOS-LQO"),
    "pesq_nb16": (16000, "mono", "speech", True, "MOS-LQO"),
    "visqol_audio": (48000, "mono", "audio", True, "MOS-LQO"),
    "visqol_speech": (16000, "mono", "speech", True, "MOS-LQO"),
    "dnsmos_sig": (16000, "mono", "speech", True, "MOS"),
    "dnsmos_bak": (16000, "mono", "speech", True, "MOS"),
    "dnsmos_ovrl": (16000, "mono", "speech", True, "MOS"),
    "dnsmos_p808": (16000, "mono", "speech", True, "MOS"),
    "plcmos": (16000, "mono", "speech", True, "MOS"),
}
#: Reference-free metrics, and the ones only computed when named.
REFERENCE_FREE = {"dnsmos_sig", "dnsmos_bak", "dnsmos_ovrl", "dnsmos_p808", "plcmos"}
NOT_DEFAULT = REFERENCE_FREE  # DNSMOS costs twice the rest: only when named

#: Metrics left out of "all"/"default" (computed only when named).
OPT_IN = ("pesq_nb16",)


def test_every_metric_declares_its_properties() -> None:
    metrics = all_metrics()
    assert list(metrics) == list(EXPECTED)  # report order
    for name, (rate, channels, domain, higher, unit) in EXPECTED.items():
        metric = metrics[name]
        assert metric.name == name
        got = (metric.rate, metric.channels, metric.domain, metric.higher_is_better, metric.unit)
        assert got == (rate, channels, domain, higher, unit), name
        assert metric.channels in CHANNEL_RULES and metric.domain in DOMAINS
        assert metric.description
        described = metric.describe()
        assert described["name"] == name and described["rate"] == rate
        assert described["reference_free"] == (name in REFERENCE_FREE) == (not metric.intrusive)
        assert described["default"] == (name not in NOT_DEFAULT and name not in OPT_IN)
        json.dumps(described)  # plain data


def test_version_names_the_libraries_and_the_resampler() -> None:
    assert "pesq==0.0.4" in get_metric("pesq_wb").version()
    assert "soxr" in get_metric("pesq_wb").version()  # resampled metric: resampler recorded
    assert "soxr" not in get_metric("snr").version()  # works at the input's rate
    assert "visqol-python==" in get_metric("visqol_audio").version()
    assert "pystoi==" in get_metric("estoi").version()


def test_default_sets_follow_the_domain() -> None:
    speech = [m.name for m in resolve_metrics(None, "speech")]
    audio = [m.name for m in resolve_metrics("default", "audio")]
    defaults = [n for n in EXPECTED if n not in OPT_IN and n not in NOT_DEFAULT]
    assert speech == [n for n in defaults if EXPECTED[n][2] in ("both", "speech")]
    assert audio == ["snr", "psnr", "si_sdr", "lsd", "mel_distance", "visqol_audio"]
    assert [m.name for m in resolve_metrics("all", "audio")] == audio
    assert [m.name for m in resolve_metrics("all", None)] == defaults


def test_opt_in_metrics_are_computed_only_when_named() -> None:
    left_out = [n for n, m in all_metrics().items() if not m.default]
    assert left_out == [n for n in EXPECTED if n in OPT_IN or n in NOT_DEFAULT]
    named = [m.name for m in resolve_metrics("default,pesq_nb16", "speech")]
    assert named[-1] == "pesq_nb16" and named.count("pesq_nb16") == 1
    assert [m.name for m in resolve_metrics("pesq_nb16", None)] == ["pesq_nb16"]


def test_explicit_names_are_honoured_in_order_without_duplicates() -> None:
    chosen = resolve_metrics("pesq_wb, snr,pesq_wb", "audio")
    assert [m.name for m in chosen] == ["pesq_wb", "snr"]
    extended = resolve_metrics("default,visqol_speech", "audio")
    assert [m.name for m in extended][-1] == "visqol_speech"
    assert not extended[-1].applies_to("audio")


def test_bad_specs_are_user_errors() -> None:
    with pytest.raises(UnknownNameError, match=r"valid: .*pesq_wb"):
        resolve_metrics("pesq_wideband", "speech")
    with pytest.raises(BenchError, match="no metric named"):
        resolve_metrics(" , ", "speech")
    with pytest.raises(BenchError, match="domain"):
        resolve_metrics("all", "music")


def test_register_metric_rejects_bad_declarations() -> None:
    class Bad(Metric):
        name = "bad_channels"
        channels = "stereo"

        def _prepare(self, reference):  # type: ignore[no-untyped-def]
            return None

        def _score(self, data, degraded):  # type: ignore[no-untyped-def]
            return MetricResult(0.0)

    with pytest.raises(TypeError, match="channels"):
        register_metric(Bad)
    Bad.channels, Bad.name = "mono", "reasons"
    with pytest.raises(TypeError, match="reserved"):
        register_metric(Bad)
    with pytest.raises(ValueError, match="already registered"):

        @register_metric
        class Again(Bad):
            name = "snr"


def _run_python(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_registry_access_does_not_import_the_heavy_libraries() -> None:
    out = _run_python(
        "import sys, bench.metrics as m; m.all_metrics(); m.resolve_metrics('all', None); "
        "print(sorted(k for k in ('pesq', 'pystoi', 'visqol', 'numba', 'scipy', 'torch') "
        "if k in sys.modules))"
    )
    assert out == "[]"


def test_importing_bench_metrics_limits_numba_to_one_thread() -> None:
    out = _run_python(
        "import os; os.environ['NUMBA_NUM_THREADS'] = '2'\n"
        "import bench.metrics, numba\n"
        "print(numba.config.NUMBA_NUM_THREADS, numba.get_num_threads())"
    )
    assert out == "1 1"
