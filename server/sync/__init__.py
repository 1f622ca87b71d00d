"""Sync: ingesting sealed batches exactly once, merging, conflicts, and pull (DESIGN §3).

Nothing here imports Flask: the HTTPS endpoint and ``a0sync import-batch`` call
the same :func:`server.sync.ingest.ingest_batch`.
"""
