"""SQLite adapters: the device logs, the version vector, the merged usage view, ingest cursors."""
