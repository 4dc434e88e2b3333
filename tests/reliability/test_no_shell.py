"""No shell anywhere (issue 8, item 3): the ``ffmpeg`` backend runs the binary with a list of
arguments through pipes, and no module of the suite builds a shell command.

Checked twice: statically (every call in ``bench/`` and ``codecs/``) and at run time (every
process the binary-backed codecs start while encoding and decoding).
"""

from __future__ import annotations

import ast
import subprocess
from pathlib import Path

import numpy as np
import pytest

from bench.audio import Audio
from bench.codecs import get_codec
from tests.conftest import ROOT, require_binary

#: Calls that always go through a shell.
SHELL_CALLS = {("os", "system"), ("os", "popen"), ("subprocess", "getoutput"),
               ("subprocess", "getstatusoutput")}  # fmt: skip
#: Calls whose first argument is the command.
COMMAND_CALLS = {"run", "Popen", "call", "check_call", "check_output"}


def sources() -> list[Path]:
    files = sorted((ROOT / "bench").rglob("*.py")) + sorted((ROOT / "codecs").glob("*.py"))
    assert len(files) > 40
    return files


def _is_text(node: ast.AST) -> bool:
    """An expression that builds a string (a command line), not a list of arguments."""
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str)
    if isinstance(node, ast.JoinedStr):
        return True
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Mod)):
        return _is_text(node.left) or _is_text(node.right)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        return node.func.attr in ("format", "join") and _is_text(node.func.value)
    return False


def shell_problems(tree: ast.AST, label: str) -> list[str]:
    """Every call in ``tree`` that runs a shell or gives a command as one string."""
    problems = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        where = f"{label}:{node.lineno}"
        func = node.func
        name = (
            (func.value.id, func.attr)
            if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)
            else None
        )
        if name in SHELL_CALLS:
            problems.append(f"{where}: {'.'.join(name)}")
        for keyword in node.keywords:
            if keyword.arg == "shell" and not (
                isinstance(keyword.value, ast.Constant) and keyword.value.value is False
            ):
                problems.append(f"{where}: shell={ast.unparse(keyword.value)}")
        attr = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if attr in COMMAND_CALLS and node.args and _is_text(node.args[0]):
            problems.append(f"{where}: command given as a string")
    return problems


def test_the_check_finds_shell_commands() -> None:
    bad = """
import os, subprocess
os.system("ffmpeg -i " + name)
subprocess.run(f"ffmpeg -i {name}", check=True)
subprocess.Popen(["ffmpeg", name], shell=use_shell)
subprocess.check_output("ffmpeg -i %s" % name)
subprocess.run(["ffmpeg", "-i", "pipe:0"], shell=False)
"""
    found = shell_problems(ast.parse(bad), "bad")
    assert [p.split(": ", 1)[0] for p in found] == ["bad:3", "bad:4", "bad:5", "bad:6"], found


def test_no_module_builds_a_shell_command() -> None:
    problems = []
    for path in sources():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        problems += shell_problems(tree, str(path.relative_to(ROOT)))
    assert not problems, problems


def test_the_ffmpeg_backend_passes_argument_lists_through_pipes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    require_binary("ffmpeg")
    started: list[tuple[object, dict]] = []
    real_popen = subprocess.Popen

    class Recording(real_popen):  # type: ignore[misc, valid-type]
        def __init__(self, args: object, *rest: object, **kwargs: object) -> None:
            started.append((args, dict(kwargs)))
            super().__init__(args, *rest, **kwargs)

    monkeypatch.setattr(subprocess, "Popen", Recording)
    t = np.arange(8000) / 8000
    audio = Audio(0.3 * np.sin(2 * np.pi * 300 * t), 8000)
    for name in ("codec2", "gsm", "mp3-cli", "twolame"):
        codec = get_codec(name)
        codec.decode(codec.encode(audio, codec.ladder()[0]).data)
    for args, kwargs in started:
        assert isinstance(args, list) and all(isinstance(a, str) for a in args), args
        assert not kwargs.get("shell"), args
        assert Path(args[0]).name.startswith("ffmpeg"), args
        if "-i" not in args:  # probing the binary: -version, -encoders, -muxers
            assert all(a.startswith("-") for a in args[1:]), args
            continue
        # Data travels through pipes only: no file name ever reaches the command line.
        assert args[args.index("-i") + 1] == "pipe:0" and args[-1] == "pipe:1", args
    assert sum("-i" in args for args, _ in started) == 8
