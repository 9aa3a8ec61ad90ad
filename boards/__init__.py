"""Board descriptions, shipped as package data (see python/firmnet/boards.py)."""
