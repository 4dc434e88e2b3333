"""Metric registry, and scoring several metrics against one reference.

``METRICS`` is a plain dict from name to a :class:`~bench.metrics.base.Metric` instance, filled by
:func:`register_metric`. The built-in metric modules are imported on first use through
:func:`get_metric`, :func:`all_metrics` or :func:`resolve_metrics`; they import their heavy
libraries (pesq, pystoi, visqol) only when a metric actually runs.

Importing this package makes numba (used by ViSQOL) run one thread per process; see
:func:`limit_numba_threads`.
"""

from __future__ import annotations

import importlib
import os
import sys
import threading
from collections.abc import Iterable
from typing import TypeVar

from bench.errors import BenchError
from bench.metrics.base import (
    CHANNEL_RULES,
    DOMAINS,
    REASONS,
    Metric,
    MetricResult,
    MetricState,
    ReferenceFreeMetric,
)
from bench.metrics.prepared import PreparedReference, prepare_reference, score_degraded
from bench.registry import Registry

__all__ = [
    "CHANNEL_RULES",
    "DOMAINS",
    "METRICS",
    "REASONS",
    "Metric",
    "MetricResult",
    "MetricState",
    "PreparedReference",
    "ReferenceFreeMetric",
    "all_metrics",
    "get_metric",
    "limit_numba_threads",
    "prepare_reference",
    "register_metric",
    "resolve_metrics",
    "score_degraded",
]

METRICS: Registry[Metric] = Registry("metric")

#: Modules holding the built-in metrics, imported on first registry access, in report order.
BUILTIN_MODULES = (
    "bench.metrics.waveform",
    "bench.metrics.spectral",
    "bench.metrics.stoi_metrics",
    "bench.metrics.pesq_metrics",
    "bench.metrics.visqol_metrics",
    "bench.metrics.mos_metrics",
)

#: Words of a ``--metrics`` spec that mean "every metric that applies to the dataset".
DEFAULT_WORDS = ("all", "default")

M = TypeVar("M", bound=type)

_lock = threading.Lock()
_loaded = False


def limit_numba_threads() -> None:
    """Make numba run one thread in this process.

    numba's default threading layer (``workqueue``, which visqol-python selects) is not
    thread-safe and every process would otherwise start one thread per core, so a pool of
    worker processes would oversubscribe the machine. ``NUMBA_NUM_THREADS`` only works when set
    before numba is imported, so this package sets it on import; if numba was imported earlier,
    the limit is applied through ``numba.set_num_threads`` instead. Call it as the initializer
    of worker processes to be explicit.
    """
    os.environ["NUMBA_NUM_THREADS"] = "1"
    numba = sys.modules.get("numba")
    if numba is not None and hasattr(numba, "set_num_threads"):
        numba.set_num_threads(1)


limit_numba_threads()


def register_metric(cls: M) -> M:
    """Class decorator: instantiate ``cls()`` and register it under ``cls.name``."""
    if not (isinstance(cls, type) and issubclass(cls, Metric)):
        raise TypeError("@register_metric decorates a Metric subclass")
    if not cls.name or cls.name.startswith("_") or cls.name in ("reasons", "details"):
        raise TypeError(f"{cls.__name__} needs a name that is not reserved, got {cls.name!r}")
    if cls.channels not in CHANNEL_RULES:
        raise TypeError(f"{cls.__name__}.channels must be one of {', '.join(CHANNEL_RULES)}")
    if cls.domain not in DOMAINS:
        raise TypeError(f"{cls.__name__}.domain must be one of {', '.join(DOMAINS)}")
    METRICS.register(cls.name)(cls())
    return cls


def _load_builtins() -> None:
    global _loaded
    if _loaded:
        return
    with _lock:
        if _loaded:
            return
        for module in BUILTIN_MODULES:
            importlib.import_module(module)
        _loaded = True


def all_metrics() -> dict[str, Metric]:
    """Every registered metric, by name, in report order.

    Report order is the order of :data:`BUILTIN_MODULES`, then definition order within a
    module, then any other registered metric: it does not depend on which module some caller
    happened to import first.
    """
    _load_builtins()
    rank = {module: i for i, module in enumerate(BUILTIN_MODULES)}
    order = sorted(
        enumerate(METRICS.values()),
        key=lambda item: (rank.get(type(item[1]).__module__, len(rank)), item[0]),
    )
    return {metric.name: metric for _, metric in order}


def get_metric(name: str) -> Metric:
    """The metric registered as ``name``; unknown names raise an error listing the valid ones."""
    _load_builtins()
    return METRICS.get_one(name)


def resolve_metrics(spec: str | Iterable[str] | None, domain: str | None) -> list[Metric]:
    """Turn a ``--metrics`` value into metrics, for a dataset of ``domain``.

    ``None``, ``"all"`` and ``"default"`` mean every metric that applies to ``domain``
    (``"speech"`` or ``"audio"``; ``None`` = content unknown, every metric), leaving out the
    metrics marked ``default = False`` (DNSMOS, PLCMOS), which run only when named. Explicit
    names are honoured even where they do not apply: they are computed, and
    :func:`~bench.metrics.prepared.score_degraded` marks their results
    ``applicable=False``. ``"default,visqol_speech"`` adds a name to the default set.
    """
    if domain is not None and domain not in DOMAINS:
        raise BenchError(f"unknown content domain {domain!r}; valid: {', '.join(DOMAINS)}")
    metrics = all_metrics()
    if spec is None:
        names = ["default"]
    else:
        parts = spec.split(",") if isinstance(spec, str) else list(spec)
        names = [n.strip() for n in parts if n.strip()]
        if not names:
            raise BenchError("no metric named; use --metrics all or a comma-separated list")
    chosen: dict[str, Metric] = {}
    for name in names:
        if name in DEFAULT_WORDS:
            for metric in metrics.values():
                if metric.default and (domain is None or metric.applies_to(domain)):
                    chosen.setdefault(metric.name, metric)
        else:
            chosen.setdefault(name, get_metric(name))
    return list(chosen.values())
