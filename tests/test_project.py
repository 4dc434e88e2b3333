"""The project's promises to a new user: README commands, CI, pins and --help agree."""

from __future__ import annotations

import re
import subprocess
import sys

import tomllib

from tests.conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def shell_blocks(text: str) -> list[str]:
    return re.findall(r"```sh\n(.*?)```", text, flags=re.S)


def test_readme_has_exactly_the_two_setup_commands_near_the_top() -> None:
    top = README[: README.index("## Everyday use")]
    commands = [
        line
        for block in shell_blocks(top)
        for line in block.splitlines()
        if line and line[0] != "#"
    ]
    assert len(commands) == 2
    assert commands[0].endswith("run_bench.py --codecs all")
    assert "pytest" in commands[1] and '".[test]"' in commands[1]


def test_ci_runs_the_readme_test_command() -> None:
    top = README[: README.index("## Everyday use")]
    lines = [line for block in shell_blocks(top) for line in block.splitlines()]
    test_command = next(line for line in lines if "pytest" in line)
    ci = (ROOT / ".ci" / "run").read_text()
    assert test_command in ci.splitlines()


def test_constraints_pin_every_dependency() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            pins[name.lower().replace("_", "-")] = version
    wanted = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        wanted += extra
    for requirement in wanted:
        name = re.split(r"[\[<>=!~ ]", requirement, maxsplit=1)[0].lower().replace("_", "-")
        assert name in pins, f"{name} is not pinned in constraints.txt"
    assert pins["torch"] == "2.13.0" and pins["av"] == "17.0.0"


def test_torch_is_an_extra_not_a_dependency() -> None:
    """The main job (classic codecs + NAMC, numpy) installs without torch (README command 1)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = {re.split(r"[\[<>=!~ ]", r, maxsplit=1)[0].lower() for r in project["dependencies"]}
    assert not names & {"torch", "transformers", "snac", "torchaudio"}
    extras = project["optional-dependencies"]
    assert any(r.startswith("torch") for r in extras["train"])
    assert {"torch", "transformers", "snac"} <= {re.split(r"[<>=]", r)[0] for r in extras["neural"]}


def test_every_command_explains_itself() -> None:
    top = subprocess.run([sys.executable, "-m", "bench", "--help"], capture_output=True,
                         text=True, cwd=ROOT, check=True).stdout  # fmt: skip
    for command in ("run", "list", "roundtrip", "score", "download", "train-namc", "weights"):
        assert command in top
        out = subprocess.run([sys.executable, "-m", "bench", command, "--help"],
                             capture_output=True, text=True, cwd=ROOT)  # fmt: skip
        assert out.returncode == 0 and "usage:" in out.stdout, command
    run = subprocess.run([sys.executable, "run_bench.py", "--help"], capture_output=True,
                         text=True, cwd=ROOT, check=True).stdout  # fmt: skip
    options = ("--codecs", "--datasets", "--bitrates", "--metrics", "--limit", "--jobs", "--out",
               "--executor", "--scheduler", "--list", "--protocol", "--cache")  # fmt: skip
    for option in options:
        assert option in run, option
