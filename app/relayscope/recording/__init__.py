"""Recordings on their way to disk: the writer thread, its process, the journal."""
