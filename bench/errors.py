"""Exceptions the suite raises on purpose.

Every error a user can cause (a bad file, a wrong name, a bitrate a codec cannot do) derives from
:class:`BenchError`; the command line prints its message on one line and exits non-zero, and the
runner stores it in the result row. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class BenchError(Exception):
    """An expected failure whose message is meant for the user."""


class AudioError(BenchError, ValueError):
    """Audio that cannot be built, read, written or converted."""


class CodecError(BenchError):
    """A codec failed to encode or decode."""


class CodecUnavailable(CodecError):
    """The codec's library, binary or encoder is missing on this machine."""


class UnsupportedBitrate(CodecError, ValueError):
    """The asked bitrate is outside what the codec can do."""


class BitstreamError(CodecError, ValueError):
    """Bytes that are not a valid bitstream: truncated, corrupted or of another version."""


class UnknownNameError(BenchError, LookupError):
    """A registry lookup for a name that is not registered; the message lists the valid names."""

    def __str__(self) -> str:  # LookupError would quote the message like a dict key
        return str(self.args[0]) if self.args else ""
