"""Providers served inside the proxy: the demo, playback, and their tiny server."""
