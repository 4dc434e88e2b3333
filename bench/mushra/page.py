"""The static MUSHRA page: one self-contained ``index.html`` beside an ``audio/`` folder.

Browsers refuse ``fetch()``/XHR of ``file://`` URLs, so a page opened from disk cannot read the
WAV bytes Web Audio's ``decodeAudioData`` needs; ``<audio>`` elements can play them but give no
sample-accurate, same-position switching between stimuli. Scripts, however, load from
``file://``: each stimulus is written twice, ``audio/<id>.wav`` (for webMUSHRA and other tools)
and ``audio/<id>.js``, which holds the same WAV bytes in base64 and registers them under the
opaque id. The page inserts the ``<script>`` tags of one trial when it opens, decodes every
stimulus into an AudioBuffer and plays them all in sync through their own gain nodes, so a
switch fades the signal heard out and the new one in (5 ms raised cosine each, no
cross-fade: BS.1534-3 5.3) at the same position. No server, no flag, no network.

The page embeds only opaque ids (trial, item, stimulus, file): which stimulus is which condition
is in ``key.json``, outside the folder listeners get.
"""

from __future__ import annotations

import base64
import json
from importlib import resources
from pathlib import Path
from typing import Any

from bench.fsutil import atomic_write_text

#: Version of the page's answer format (``page_version`` in the answers JSON).
PAGE_VERSION = "1"


def write_audio_script(path: Path, name: str, wav: bytes) -> Path:
    """``audio/<name>.js``: registers the WAV bytes (base64) as ``MUSHRA_AUDIO[name]``."""
    text = (
        "(window.MUSHRA_AUDIO = window.MUSHRA_AUDIO || {})"
        f"[{json.dumps(name)}] = {json.dumps(base64.b64encode(wav).decode('ascii'))};\n"
    )
    atomic_write_text(path, text)
    return path


def _name(file: str) -> str:
    return Path(file).stem


def page_data(key: dict[str, Any]) -> dict[str, Any]:
    """What the page embeds: trials with opaque ids and file names only."""
    trials = []
    for trial in key["trials"]:
        trials.append(
            {
                "trial_id": trial["trial_id"],
                "item_id": trial["item_id"],
                "block": trial["block"],
                "reference": _name(trial["reference_file"]),
                "stimuli": [
                    {"id": sid, "file": _name(key["stimuli"][sid]["file"])}
                    for sid in sorted(trial["stimuli"])
                ],
            }
        )
    return {"test_id": key["test_id"], "page_version": PAGE_VERSION, "trials": trials}


def _script_json(data: Any) -> str:
    # Inside <script>, "</" could end the element; escape it (JSON allows "\/").
    return json.dumps(data, sort_keys=True).replace("</", "<\\/")


def write_page(path: Path, key: dict[str, Any], title: str = "Listening test") -> Path:
    """Write ``index.html`` for ``key`` (key.json's content)."""
    import html

    template = resources.files("bench.mushra").joinpath("templates/page.html").read_text("utf-8")
    text = template.replace("__TITLE__", html.escape(title)).replace(
        "__DATA__", _script_json(page_data(key))
    )
    atomic_write_text(path, text)
    return path
