"""coklit-dq: the nightly data-quality pipeline for the voter-list update (coklit)."""

__version__ = "0.1.0"
