"""``python -m bench <command>``: the suite's command line.

Each command lives in ``bench/commands/<name>.py`` and exposes ``HELP`` (one line),
``add_arguments(parser)`` and ``main(args) -> int``. Command modules keep heavy imports inside
``main`` so ``--help`` is instant.

Exit status: 0 success; 1 the work ran but something failed (e.g. ``run --strict`` with failed
clips); 2 bad input or usage (unreadable file, unknown codec, unsupported bitrate); 130
interrupted.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import NoReturn

from bench import __version__
from bench.errors import BenchError

#: Command name -> module. A module missing from this build is left out of the parser.
COMMANDS: dict[str, str] = {
    "run": "bench.commands.run",
    "list": "bench.commands.listing",
    "roundtrip": "bench.commands.roundtrip",
    "score": "bench.commands.score",
    "download": "bench.commands.download",
    "train-namc": "bench.commands.train_namc",
    "mushra": "bench.commands.mushra",
    "mushra-analyse": "bench.commands.mushra_analyse",
    "weights": "bench.commands.weights",
}

EXIT_OK, EXIT_FAILURES, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def build_parser() -> argparse.ArgumentParser:
    """The full parser with every available command."""
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="namc-bench: neural and classic audio codecs at measured, matched bitrates.",
        epilog="Exit status: 0 ok, 1 finished with failures (--strict), 2 bad input, "
        "130 interrupted.",
    )
    parser.add_argument("--version", action="version", version=f"namc-bench {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, module_name in COMMANDS.items():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                continue
            raise
        command = sub.add_parser(
            name,
            help=module.HELP,
            description=getattr(module, "DESCRIPTION", module.HELP),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        module.add_arguments(command)
        command.set_defaults(func=module.main)
    return parser


def run_command(func, args: argparse.Namespace) -> int:  # type: ignore[no-untyped-def]
    """Run a command's ``main``; user errors become one line on stderr and exit status 2."""
    try:
        return int(func(args) or 0)
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # Output piped into e.g. `head`, which closed early: not an error of ours. Point stdout
        # at devnull so the interpreter's final flush does not raise again.
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


def exit_process(code: int) -> NoReturn:
    """End the process with ``code`` as a normal exit would, less the interpreter's teardown of
    every module and object (0.2 s of a small run's wall time once pandas, scipy and PyAV are
    loaded): the exit handlers run, the standard streams are flushed, then ``os._exit``. Only
    for the entry points, after :func:`main` returned (every output is written and closed by
    then, and the workers have stopped)."""
    import atexit
    import contextlib
    import os

    run_handlers = getattr(atexit, "_run_exitfuncs", None)  # CPython's own exit step
    if run_handlers is not None:
        run_handlers()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError, AttributeError):
            stream.flush()
    os._exit(code)


#: BLAS thread pools the main process of ``run`` does without (see :func:`_quiet_blas`).
MAIN_BLAS_ENV = (("OPENBLAS_NUM_THREADS", "1"), ("MKL_NUM_THREADS", "1"))


def _quiet_blas(argv: Sequence[str]) -> None:
    """Before numpy is imported, keep its BLAS to one thread in the main process of ``run``.

    That process plans, stores results and writes tables, none of which needs BLAS threads,
    and a process with one thread can fork its workers (milliseconds each, with numpy and the
    suite already imported) instead of spawning fresh interpreters that import them again
    (see :func:`bench.executors.worker_start_method`). OpenBLAS starts its pool when it is
    loaded, so this must run first; a value the user set is kept (above one thread, the
    workers are then spawned).
    """
    if argv[:1] == ["run"] and "numpy" not in sys.modules:
        import os

        for name, value in MAIN_BLAS_ENV:
            if not os.environ.get(name):  # unset or empty (which OpenBLAS reads as unset)
                os.environ[name] = value


def console() -> NoReturn:
    """The ``namc-bench`` console script: :func:`main` on ``sys.argv``, then
    :func:`exit_process`, as ``python -m bench`` does."""
    exit_process(main())


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and run the chosen command; returns the exit status."""
    _quiet_blas(list(sys.argv[1:] if argv is None else argv))
    parser = build_parser()
    args = parser.parse_args(argv)
    return run_command(args.func, args)


if __name__ == "__main__":
    sys.exit(main())
