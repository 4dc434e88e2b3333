"""Export the test as a webMUSHRA config (https://github.com/audiolabs/webMUSHRA).

One ``type: mushra`` page per trial, wrapped in webMUSHRA's ``random`` group so each listener
gets the trials in a random order, with ``randomize: true`` (conditions shuffled on each page)
and ``showConditionNames: false``; the anchors are our rendered files (``createAnchor35`` and
``createAnchor70`` are false: webMUSHRA would otherwise add its own filtered copies), the hidden
reference is one of the ``stimuli`` like every other condition, listed under its opaque id so
webMUSHRA's results name the same stimulus ids as key.json. Audio paths are
``PREFIX + audio/<id>.wav``; webMUSHRA resolves them against its own ``index.html``, so copy the
``test/audio`` folder there (e.g. into ``configs/resources/``) and pass the matching
``--webmushra-prefix``.

The YAML is written by hand (no PyYAML needed): every string is a JSON string, which YAML reads
as the same string.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.fsutil import atomic_write_text

INSTRUCTIONS = (
    "Rate the basic audio quality of each condition against the reference, 0 (bad) to "
    "100 (excellent). Any difference from the reference is an impairment. One condition is "
    "the reference itself."
)


def _s(value: Any) -> str:
    return json.dumps(str(value))


def config_text(key: dict[str, Any], prefix: str = "../test/") -> str:
    """The config YAML for ``key`` (key.json's content)."""
    lines = [
        f"testname: {_s('namc-bench listening test ' + key['run_id'])}",
        f"testId: {_s(key['test_id'])}",
        "bufferSize: 2048",
        "stopOnErrors: true",
        "showButtonPreviousPage: true",
        f"remoteService: {_s('service/write.php')}",
        "",
        "pages:",
        "    - type: generic",
        "      id: welcome",
        f"      name: {_s('Welcome')}",
        f"      content: {_s(INSTRUCTIONS)}",
        "    -",
        "        - random",
    ]
    for trial in key["trials"]:
        lines += [
            "        - type: mushra",
            f"          id: {_s(trial['trial_id'])}",
            f"          name: {_s('Trial ' + trial['trial_id'])}",
            f"          content: {_s(INSTRUCTIONS)}",
            "          showWaveform: false",
            "          enableLooping: true",
            f"          reference: {_s(prefix + trial['reference_file'])}",
            "          createAnchor35: false",
            "          createAnchor70: false",
            "          randomize: true",
            "          showConditionNames: false",
            "          stimuli:",
        ]
        for sid in sorted(trial["stimuli"]):
            lines.append(f"              {_s(sid)}: {_s(prefix + key['stimuli'][sid]['file'])}")
    lines += [
        "    - type: finish",
        f"      name: {_s('Thank you')}",
        f"      content: {_s('Thank you for taking part.')}",
        "      showResults: false",
        "      writeResults: true",
        "",
    ]
    return "\n".join(lines)


def write_config(path: Path, key: dict[str, Any], prefix: str = "../test/") -> Path:
    """Write ``config.yaml`` (atomic)."""
    atomic_write_text(path, config_text(key, prefix))
    return path
