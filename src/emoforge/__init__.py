"""emoforge: a reproducible workflow for emotional speech and faces."""

__version__ = "0.1.0"
