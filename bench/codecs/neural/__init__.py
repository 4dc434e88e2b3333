"""Neural peers: well-known neural codecs (EnCodec, Mimi, DAC, SNAC) as codecs of the suite.

Each adapter runs a published checkpoint found on this machine (never downloaded, see
:mod:`bench.codecs.neural.weights`) and writes its codes in the suite's own bitstream
(:mod:`bench.codecs.neural.bitstream`), so the measured rate counts every bit a decoder needs.
Importing this package imports nothing heavy: torch and transformers load on first encode.
"""
