"""namc-bench: codecs behind one encode/decode interface, scored at measured, matched bitrates."""

__version__ = "0.1.0"

from bench.audio import Audio, load_audio, save_audio
from bench.errors import BenchError

__all__ = ["Audio", "BenchError", "__version__", "load_audio", "save_audio"]
