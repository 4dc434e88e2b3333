"""MUSHRA listening tests (ITU-R BS.1534-3) built from a run, and their analysis.

Generation (``python -m bench mushra``, :mod:`build`): :mod:`select` picks items and conditions
from a run's results, :mod:`anchors` renders the low-pass anchors, :mod:`loudness` measures
BS.1770-4 loudness, :mod:`render` cuts and aligns the stimuli, :mod:`page` writes the static
listening page and :mod:`webmushra` a webMUSHRA config.
Analysis (``python -m bench mushra-analyse``): :mod:`answers`, :mod:`screening`, :mod:`stats`,
:mod:`agreement`, :mod:`plots`, :mod:`report`.
"""
