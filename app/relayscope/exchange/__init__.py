"""Calls in and out: HAR/JSONL/fine-tuning/OTLP exports, imports, code, sharing."""
