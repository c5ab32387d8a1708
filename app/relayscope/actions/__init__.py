"""What a person does with recorded calls: replay, diff, compare, playback, breakpoints."""
