"""Plain-dict registries filled by a decorator.

>>> CODECS: Registry[type] = Registry("codec")
>>> @CODECS.register("mp3")
... class Mp3: ...
>>> CODECS.get_one("ogg")  # raises UnknownNameError: unknown codec 'ogg'; valid: mp3
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from bench.errors import UnknownNameError

T = TypeVar("T")


class Registry(dict[str, T]):
    """A ``dict`` from name to entry, with a registering decorator and a helpful lookup."""

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind

    def register(self, name: str, *, replace: bool = False) -> Callable[[T], T]:
        """Decorator that stores the decorated object under ``name``.

        Registering a taken name is an error unless ``replace`` is true, so two plug-ins cannot
        silently shadow each other.
        """
        if not name or not isinstance(name, str):
            raise ValueError(f"{self.kind} name must be a non-empty string, got {name!r}")

        def decorate(entry: T) -> T:
            if name in self and not replace and self[name] is not entry:
                raise ValueError(f"{self.kind} {name!r} is already registered")
            self[name] = entry
            return entry

        return decorate

    def get_one(self, name: str) -> T:
        """Return the entry for ``name`` or raise an error that lists every valid name."""
        try:
            return self[name]
        except KeyError:
            valid = ", ".join(sorted(self)) or "(none registered)"
            raise UnknownNameError(f"unknown {self.kind} {name!r}; valid: {valid}") from None
