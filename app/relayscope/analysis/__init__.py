"""What recorded calls mean: stream findings, diagnostics, sessions, cost."""
