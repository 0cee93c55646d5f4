"""The downloader's default limits, apart from :mod:`.download` so that the model cache can take
them as its defaults without importing the downloader (urllib, ssl, filelock), which the
window's first paint does without."""

DEFAULT_TIMEOUT_S = 15.0
DEFAULT_ATTEMPTS = 3
DEFAULT_BACKOFF_S = 0.5
DEFAULT_MIN_RATE = 4096
"""Bytes a second below which a source is given up (measured over ``DEFAULT_RATE_WINDOW_S``)."""
DEFAULT_RATE_WINDOW_S = 60.0
