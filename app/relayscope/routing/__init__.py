"""Which provider answers a request, the upstream URL, quirks, and client snippets."""
