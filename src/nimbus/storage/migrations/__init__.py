"""Numbered SQL migrations of the SQLite metadata store (``NNNN_name.sql``, applied in order once each)."""
