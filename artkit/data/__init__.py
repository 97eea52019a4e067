"""Data sets, image decoding, splits and the synthetic generator."""
