"""Listening examples kept by the workers: the page's files are those the main process would
have encoded again, byte for byte; a missed prediction or a damaged file falls back to encoding.

A plug-in codec (``t-mark``) writes one line per encode into ``$MARK_DIR``, saying whether the
main process or a worker encoded, so the tests see across the process boundary who did the work.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from bench.examples_plan import clip_rank, predict_clips, predict_points
from bench.jobs import WORKER_ENV
from bench.report.examples import example_path
from bench.runner import STAGES
from tests.test_runner import results, run

MARK = """
import multiprocessing, os
import numpy as np
from bench.audio import Audio
from bench.codecs import register_codec
from bench.codecs.base import Bitrates, Codec, Encoded
from bench.errors import CodecError


@register_codec
class Mark(Codec):
    name = "t-mark"
    bitrates = Bitrates(ladder=(8, 16), allowed=(8, 16))

    def encode(self, audio, kbps):
        role = "main" if multiprocessing.parent_process() is None else "worker"
        with open(os.path.join(os.environ["MARK_DIR"], f"{role}-{os.getpid()}"), "a") as f:
            f.write(f"{audio.frames} {kbps}\\n")
        if str(audio.frames) in os.environ.get("FAIL_FRAMES", "").split(","):
            raise CodecError("t-mark fails on this clip")
        step = 2.0 ** (1 - kbps / 2)  # coarser at the lower bitrate
        data = (np.round(audio.samples[0] / step) * step).astype("<f4").tobytes()
        return Encoded(data, len(data), audio.duration, kbps)

    def decode(self, data):
        return Audio(np.frombuffer(data, "<f4")[None, :].copy(), 16000)
"""


def make_clips(folder: Path, seconds: tuple[float, ...]) -> Path:
    """One 16 kHz clip per length (lengths differ, so ``t-mark`` can fail on chosen clips)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(3)
    for i, length in enumerate(seconds):
        t = np.arange(int(length * 16000)) / 16000
        tone = 0.3 * np.sin(2 * np.pi * (200 + 150 * i) * t) + 0.02 * rng.standard_normal(t.size)
        sf.write(folder / f"clip{i:02d}.wav", tone.astype(np.float32), 16000, subtype="PCM_16")
    return folder


@pytest.fixture()
def plugins(tmp_path: Path) -> Path:
    folder = tmp_path / "plugins"
    folder.mkdir()
    (folder / "mark.py").write_text(textwrap.dedent(MARK))
    return folder


def marks(folder: Path, role: str) -> list[str]:
    return [line for f in folder.glob(f"{role}-*") for line in f.read_text().splitlines()]


def example_files(out: Path) -> dict[str, bytes]:
    return {
        p.relative_to(out).as_posix(): p.read_bytes() for p in (out / "examples").rglob("*.wav")
    }


def run_marked(tmp_path: Path, plugins: Path, name: str, *args: str, **env: str) -> Path:
    """A run into ``tmp_path/name`` with the store ``tmp_path/c.sqlite``; its marks folder."""
    mark_dir = tmp_path / f"marks-{name}"
    mark_dir.mkdir()
    # The main process with one BLAS thread as the workers have: namc's decoded samples depend
    # on the thread count in their last bits, and here the two paths must give the same bytes.
    run(*args, "--out", str(tmp_path / name), "--cache", str(tmp_path / "c.sqlite"),
        "--metrics", "snr", "--jobs", "2",
        env={**dict(WORKER_ENV), "BENCH_CODECS_DIR": str(plugins), "MARK_DIR": str(mark_dir),
             **env})  # fmt: skip
    return mark_dir


def test_workers_keep_the_examples_the_main_process_would_encode(
    tmp_path: Path, plugins: Path
) -> None:
    clips = make_clips(tmp_path / "clips", (1.0, 1.1, 1.2, 1.3))
    args = ("--codecs", "opus,mp3,namc,t-mark", "--datasets", f"folder={clips}",
            "--examples", "2", "--bitrates", "2.4,8,16,32")  # fmt: skip
    kept = tmp_path / "c.sqlite.files" / "examples"
    marked = run_marked(tmp_path, plugins, "new", *args)
    assert marks(marked, "worker") and not marks(marked, "main")  # no encode in the main process
    new = example_files(tmp_path / "new")
    # 2 clips: the original, namc's lowest and every codec's point matched to it.
    assert len(new) >= 2 * 4 and any("/original.wav" in name for name in new)
    meta = json.loads((tmp_path / "new" / "run.json").read_text())
    timings = meta["timings"]
    assert timings["examples_cpu_s"] > 0  # reported, and not part of the stages' CPU
    assert "examples_cpu_s" not in STAGES
    assert timings["stage_cpu_s"] == pytest.approx(sum(timings[k] for k in STAGES), abs=0.01)
    # Predicted: 2 + 1 spare clips x (original + every lossy point, as namc is neural).
    table = results(tmp_path / "new")
    ladders = {c: sorted(set(rows["target_kbps"])) for c, rows in table.groupby("codec")}
    assert len(list(kept.glob("*.wav"))) == 3 * (1 + len(predict_points(ladders, {"namc"})))

    # The old path: every point in the store, no kept file: the main process encodes again.
    for path in kept.glob("*.wav"):
        path.unlink()
    marked = run_marked(tmp_path, plugins, "old", *args)
    assert marks(marked, "main") and not marks(marked, "worker")
    assert example_files(tmp_path / "old") == new  # same files, byte for byte

    # A kept file damaged or gone is made again; the others are copied.
    damaged, gone, *_ = sorted(kept.glob("*.wav"))
    whole = damaged.read_bytes()
    damaged.write_bytes(whole[:-100])
    gone.unlink()
    marked = run_marked(tmp_path, plugins, "again", *args)
    assert len(marks(marked, "main")) <= 2 and not marks(marked, "worker")
    assert example_files(tmp_path / "again") == new
    assert gone.is_file() and damaged.read_bytes() == whole


def test_a_missed_prediction_encodes_again(tmp_path: Path, plugins: Path) -> None:
    lengths = (1.0, 1.1, 1.2, 1.3)
    clips = make_clips(tmp_path / "clips", lengths)
    ids = [f"clip{i:02d}.wav" for i in range(len(lengths))]
    ranked = sorted(ids, key=lambda clip_id: clip_rank("folder", clip_id))
    assert predict_clips((("folder", c) for c in ids), per_dataset=1) == {
        ("folder", c) for c in ranked[:2]
    }
    # t-mark fails on the predicted clip and on its spare: the page shows the third.
    fail = ",".join(str(int(lengths[ids.index(c)] * 16000)) for c in ranked[:2])
    args = ("--codecs", "opus,t-mark", "--datasets", f"folder={clips}", "--examples", "1",
            "--bitrates", "8,16")  # fmt: skip
    marked = run_marked(tmp_path, plugins, "new", *args, FAIL_FRAMES=fail)
    third = example_path(tmp_path / "new", "folder", ranked[2], None, None).parent
    files = example_files(tmp_path / "new")
    assert files and all(name.startswith(f"examples/{third.name}/") for name in files)
    # The original, opus's and t-mark's lowest.
    assert sorted(name.split("/")[-1].split("_")[0] for name in files) == [
        "opus",
        "original.wav",
        "t-mark",
    ]
    assert marks(marked, "main")  # the miss was encoded again here
    table = results(tmp_path / "new")
    assert (table.loc[table["codec"] == "t-mark", "status"] == "error").sum() == 2 * 2

    kept = tmp_path / "c.sqlite.files" / "examples"
    for path in kept.glob("*.wav"):
        path.unlink()
    run_marked(tmp_path, plugins, "old", *args, FAIL_FRAMES=fail)
    assert example_files(tmp_path / "old") == files


def test_dask_workers_keep_the_examples(tmp_path: Path, plugins: Path) -> None:
    pytest.importorskip("distributed")
    clips = make_clips(tmp_path / "clips", (1.0, 1.2))
    # Default ladders (ints: 8, not 8.0, in the store's keys).
    args = ("--codecs", "opus,t-mark", "--datasets", f"folder={clips}", "--examples", "1")
    marked = run_marked(tmp_path, plugins, "dask", *args, "--executor", "dask")
    assert marks(marked, "worker") and not marks(marked, "main")
    files = example_files(tmp_path / "dask")
    assert len(files) == 3
    kept = tmp_path / "c.sqlite.files" / "examples"
    for path in kept.glob("*.wav"):
        path.unlink()
    run_marked(tmp_path, plugins, "old", *args)
    assert example_files(tmp_path / "old") == files
