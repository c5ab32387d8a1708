"""A recorded call: its typed record, the facts derived from it, and how it is shown."""
