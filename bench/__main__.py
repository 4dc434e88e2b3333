"""Entry point for ``python -m bench``."""

from bench.cli import exit_process, main

if __name__ == "__main__":
    exit_process(main())
