"""``python -m bench mushra``: from a run folder to a listening test folder.

:func:`build_test` ties the parts together: conditions and items (:mod:`~bench.mushra.select`),
clips reloaded from the run's own dataset options, signals rendered and loudness-aligned
(:mod:`~bench.mushra.render`, :mod:`~bench.mushra.anchors`), objective scores of each stimulus
against its reference excerpt (the suite's metrics), then ``key.json``, the page
(:mod:`~bench.mushra.page`) and the webMUSHRA config (:mod:`~bench.mushra.webmushra`).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import random
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from bench.audio import Audio
from bench.errors import BenchError
from bench.mushra import render, select
from bench.mushra.anchors import ANCHORS, anchor

KEY_SCHEMA = 1
REFERENCE, LOW_ANCHOR, MID_ANCHOR, CODEC = "reference", "anchor_lp35", "anchor_lp70", "codec"
FIXED_KINDS = (REFERENCE, LOW_ANCHOR, MID_ANCHOR)


@dataclass
class BuildOptions:
    """What ``python -m bench mushra`` was asked for (see its ``--help``)."""

    run_dir: Path
    out_dir: Path | None = None
    conditions: Sequence[tuple[str, float]] | None = None
    match: str | None = None
    codecs: Sequence[str] | None = None
    max_rate_ratio: float = 2.0
    items: int | None = None
    seconds: float = render.DEFAULT_SECONDS
    seed: int = 1
    target_lufs: float = render.DEFAULT_TARGET_LUFS
    metrics: Sequence[str] | None = None
    datasets: argparse.Namespace | None = None
    per_trial: int = select.MAX_CODECS_PER_TRIAL
    webmushra_prefix: str = "../test/"
    title: str = "Listening test"
    extra: dict[str, Any] = field(default_factory=dict)


def _from_run_json(
    meta: Mapping[str, Any], wanted: Mapping[str, set[str]]
) -> dict[tuple[str, str], Any]:
    """The clips of each dataset in run.json's ``datasets`` (kind, folder of a clip, protocol,
    max_seconds): the folder and its parents are tried until one lists every wanted clip."""
    from bench.datasets import get_kind, load_clips
    from bench.datasets.base import DatasetSpec

    found: dict[tuple[str, str], Any] = {}
    for name, clip_ids in wanted.items():
        entry = (meta.get("datasets") or {}).get(name)
        if not entry:
            raise BenchError(f"run.json does not describe dataset {name!r}; give --datasets")
        kind = get_kind(str(entry.get("kind")))
        folder = Path(entry["path"]) if entry.get("path") else None
        candidates = [None] if folder is None else [folder, *list(folder.parents)[:4]]
        for candidate in candidates:
            try:
                path = None if candidate is None else kind.resolve(candidate)
                clips = load_clips(
                    DatasetSpec(name=name, kind=kind.name, path=path),
                    max_seconds=entry.get("max_seconds"),
                    protocol=entry.get("protocol") or "native",
                )
            except BenchError:
                continue
            by_id = {clip.clip_id: clip for clip in clips}
            if clip_ids <= set(by_id):
                found.update({(name, c): by_id[c] for c in clip_ids})
                break
        else:
            raise BenchError(
                f"cannot find the clips of {name} from run.json (looked in {folder}); "
                "give --datasets as the run had it"
            )
    return found


def reload_clips(
    meta: Mapping[str, Any],
    override: argparse.Namespace | None,
    wanted: Mapping[str, set[str]] | None = None,
) -> dict[tuple[str, str], Any]:
    """(dataset, clip_id) -> Clip of the run.

    With ``override`` (the command's own ``--datasets`` options) those are used; otherwise the
    datasets run.json describes, looked up so that every clip id in ``wanted`` (dataset ->
    clip ids of the results) is found."""
    import io

    from bench.datasets import clips_from_args

    if override is not None and override.datasets:
        clips = clips_from_args(override, stream=io.StringIO())
        return {(clip.dataset, clip.clip_id): clip for clip in clips}
    return _from_run_json(meta, wanted or {})


def _group(clip: Any) -> str:
    from bench.datasets import get_kind

    try:
        return get_kind(clip.kind).group_key(clip) or clip.clip_id
    except BenchError:
        return clip.clip_id


def _metric_value(result: Any) -> float | None:
    value = float(result.value)
    return value if result.ok and math.isfinite(value) else None


def _iso_now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def _check_out(out: Path) -> None:
    """Refuse an ``out`` that is a file, or holds test/ or webmushra/ folders that an earlier
    build did not leave (no key.json beside them): those are never removed."""
    if out.exists() and not out.is_dir():
        raise BenchError(f"--out {out} is a file")
    parts = [out / "test", out / "webmushra"]
    if any(p.exists() for p in parts) and not (out / "key.json").is_file():
        raise BenchError(
            f"--out {out} holds test/ or webmushra/ but no key.json: not a listening test this "
            "command built; choose another folder"
        )


#: Folder inside ``--out`` where a build is written before it replaces the previous one.
STAGE = ".mushra-build"


def _stage(out: Path) -> Path:
    """An empty staging folder in ``out`` (a stale one from a killed build is removed)."""
    _check_out(out)
    stage = out / STAGE
    shutil.rmtree(stage, ignore_errors=True)
    (stage / "test" / "audio").mkdir(parents=True)
    (stage / "webmushra").mkdir(parents=True)
    return stage


def _publish(stage: Path, out: Path) -> None:
    """Move the finished build into place: test/, webmushra/, then key.json last, replacing the
    previous build's; anything else in ``out`` (e.g. the analysis' files) is left alone."""
    for part in ("test", "webmushra"):
        shutil.rmtree(out / part, ignore_errors=True)
        (stage / part).rename(out / part)
    (stage / "key.json").replace(out / "key.json")
    shutil.rmtree(stage, ignore_errors=True)


def build_test(options: BuildOptions, stream: TextIO | None = None) -> dict[str, Any]:
    """Write the listening test; returns key.json's content. BenchError on bad input."""
    import sys

    from bench.codecs import get_codec
    from bench.fsutil import atomic_write_text
    from bench.metrics import get_metric, prepare_reference, score_degraded
    from bench.mushra import page, webmushra

    log = stream if stream is not None else sys.stderr
    run_dir = Path(options.run_dir).resolve()
    out = Path(options.out_dir) if options.out_dir is not None else run_dir / "mushra"
    results, meta = select.load_run(run_dir)
    _check_out(out)
    conditions, notes = select.choose_conditions(
        results, options.conditions, options.match, options.codecs, options.max_rate_ratio
    )
    for note in notes:
        print(f"note: left out {note}", file=log)
    codecs = {}
    for cond in conditions:
        codec = get_codec(cond.codec)
        ok, reason = codec.availability()
        if not ok:
            raise BenchError(f"{cond.codec} is needed to render the test but unavailable: {reason}")
        codecs[cond.codec] = codec
    needed = select.minimum_items(len(conditions))
    count = options.items if options.items is not None else needed
    if count < needed:
        raise BenchError(
            f"--items {count}: BS.1534-3 wants at least {needed} items for "
            f"{len(conditions)} system(s) (at least 5, 1.5 per system)"
        )
    wanted: dict[str, set[str]] = {}
    for dataset, clip in zip(results["dataset"], results["clip_id"], strict=True):
        wanted.setdefault(str(dataset), set()).add(str(clip))
    clips = reload_clips(meta, options.datasets, wanted)
    metric_names = list(
        options.metrics if options.metrics is not None else meta.get("metrics") or []
    )
    items = select.select_items(
        results,
        conditions,
        count,
        options.seed,
        groups={key: _group(clip) for key, clip in clips.items()},
        metrics=metric_names,
        available=clips,
    )
    blocks = select.split_blocks(conditions, options.per_trial)
    metrics = [get_metric(name) for name in metric_names]

    cond_ids = {cond: f"{cond.codec}@{cond.target_kbps:g}" for cond in conditions}
    key_conditions: dict[str, Any] = {
        REFERENCE: {"kind": REFERENCE, "codec": None, "target_kbps": None, "actual_kbps": None,
                    "label": "hidden reference"},
        LOW_ANCHOR: {"kind": LOW_ANCHOR, "codec": None, "target_kbps": None, "actual_kbps": None,
                     "label": "anchor low-pass 3.5 kHz", "cutoff_hz": ANCHORS[LOW_ANCHOR]},
        MID_ANCHOR: {"kind": MID_ANCHOR, "codec": None, "target_kbps": None, "actual_kbps": None,
                     "label": "anchor low-pass 7 kHz", "cutoff_hz": ANCHORS[MID_ANCHOR]},
    }  # fmt: skip
    for cond, cid in cond_ids.items():
        key_conditions[cid] = {
            "kind": CODEC,
            "codec": cond.codec,
            "target_kbps": cond.target_kbps,
            "actual_kbps": round(cond.actual_kbps, 4),
            "label": cond.label,
        }

    # Render every signal of every item (before loudness alignment) and score it.
    signals: dict[tuple[str, str], Audio] = {}
    references: dict[str, Audio] = {}
    objective: dict[tuple[str, str], dict[str, float | None]] = {}
    key_items: dict[str, Any] = {}
    for number, item in enumerate(items, 1):
        item_id = f"item{number:02d}"
        clip = clips[(item.dataset, item.clip_id)]
        audio = clip.load()
        start, frames = render.excerpt_window(audio, options.seconds)
        print(f"rendering {item_id}: {item.dataset} {item.clip_id} "
              f"({frames / audio.rate:.2f} s at {start / audio.rate:.2f} s)", file=log)  # fmt: skip
        made = {REFERENCE: audio}
        for kind in (LOW_ANCHOR, MID_ANCHOR):
            made[kind] = anchor(audio, kind)
        for cond, cid in cond_ids.items():
            try:
                _, decoded = codecs[cond.codec].roundtrip(audio, cond.target_kbps)
            except BenchError as exc:
                raise BenchError(f"{cond.label} on {item.dataset}/{item.clip_id}: {exc}") from None
            made[cid] = decoded
        cut = {cid: render.cut(signal, start, frames) for cid, signal in made.items()}
        references[item_id] = cut[REFERENCE]
        applicable = [m for m in metrics if m.applies_to(clip.domain)]
        prepared = (
            prepare_reference(applicable, cut[REFERENCE], clip.domain) if applicable else None
        )
        for cid, signal in cut.items():
            signals[(item_id, cid)] = signal
            scores = score_degraded(prepared, signal) if prepared is not None else {}
            objective[(item_id, cid)] = {m.name: _metric_value(scores[m.name]) for m in applicable}
        key_items[item_id] = {
            "dataset": item.dataset,
            "clip_id": item.clip_id,
            "offset_s": round(start / audio.rate, 6),
            "duration_s": round(frames / audio.rate, 6),
            "rate": audio.rate,
            "channels": audio.channels,
            "domain": clip.domain,
            "group": _group(clip),
            "stress": round(item.stress, 6),
            "why": item.why,
        }
    plan = render.plan_loudness(
        {f"{i}/{c}": s for (i, c), s in signals.items()}, options.target_lufs
    )

    stage = _stage(out)
    rng = random.Random(f"namc-bench mushra {options.seed}")
    used: set[str] = set()

    def opaque(prefix: str = "", digits: int = 16) -> str:
        while True:
            name = prefix + f"{rng.getrandbits(64):016x}"[:digits]
            if name not in used:
                used.add(name)
                return name

    audio_dir = stage / "test" / "audio"

    def write(item_id: str, cid: str) -> str:
        name = opaque()
        signal = render.apply_gain(signals[(item_id, cid)], plan.gains_db[f"{item_id}/{cid}"])
        data = render.write_wav(audio_dir / f"{name}.wav", signal)
        page.write_audio_script(audio_dir / f"{name}.js", name, data)
        return f"audio/{name}.wav"

    trials: list[dict[str, Any]] = []
    stimuli: dict[str, Any] = {}
    number = 0
    for item_id in key_items:
        for block_index, block in enumerate(blocks):
            number += 1
            trial_id = f"t{number:02d}"
            reference_file = write(item_id, REFERENCE)
            mapping: dict[str, str] = {}
            for cid in [*FIXED_KINDS, *(cond_ids[c] for c in block)]:
                sid = opaque("s", 8)
                mapping[sid] = cid
                stimuli[sid] = {
                    "file": write(item_id, cid),
                    "item_id": item_id,
                    "condition_id": cid,
                    "trial_id": trial_id,
                    "gain_db": round(plan.gains_db[f"{item_id}/{cid}"], 4),
                    "loudness_lufs": round(plan.loudness_lufs[f"{item_id}/{cid}"], 4),
                    "objective": objective[(item_id, cid)],
                }
            trials.append({"trial_id": trial_id, "item_id": item_id, "block": block_index,
                           "stimuli": dict(sorted(mapping.items())),
                           "reference_file": reference_file})  # fmt: skip
    test_id = f"namc-mushra-{meta.get('run_id') or run_dir.name}-{options.seed}"
    key: dict[str, Any] = {
        "schema_version": KEY_SCHEMA,
        "created": _iso_now(),
        "run_dir": str(run_dir),
        "run_id": str(meta.get("run_id") or run_dir.name),
        "suite_version": str(meta.get("suite_version", "")),
        "test_id": test_id,
        "design_seed": int(options.seed),
        "loudness": {
            "method": "ITU-R BS.1770-4 integrated loudness (K-weighted, gated), sample peak",
            "target": round(plan.target_lufs, 4),
            "requested_target": options.target_lufs,
            "common_gain_db": round(plan.headroom_db, 4),
            "peak_limit_dbfs": plan.peak_limit_dbfs,
            "peak_dbfs": round(plan.peak_dbfs, 4),
        },
        "excerpt": {"seconds": options.seconds, "fade_s": render.FADE_S,
                    "how": "the most energetic window of that length; shorter clips whole"},
        "signals_per_trial": max(len(t["stimuli"]) for t in trials) + 1,
        "blocks": len(blocks),
        "metrics": [m.name for m in metrics],
        "notes": notes,
        "items": key_items,
        "conditions": key_conditions,
        "trials": trials,
        "stimuli": stimuli,
    }  # fmt: skip
    page.write_page(stage / "test" / "index.html", key, title=options.title)
    webmushra.write_config(
        stage / "webmushra" / "config.yaml", key, prefix=options.webmushra_prefix
    )
    atomic_write_text(stage / "key.json", json.dumps(key, indent=1) + "\n")
    _publish(stage, out)
    return key
