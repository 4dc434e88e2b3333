#!/usr/bin/env python3
"""The main job: ``python run_bench.py --codecs all`` (same as ``python -m bench run``)."""

import sys

from bench.cli import exit_process, main

if __name__ == "__main__":
    exit_process(main(["run", *sys.argv[1:]]))
