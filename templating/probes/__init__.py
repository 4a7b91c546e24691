"""Probing a template by rendering it: `contract` (the training contract, property-tested with
Hypothesis: assistant masks, end-of-turn, prefix stability, one BOS), `capabilities` (what it
renders of tools, calls and reasoning), `strategies` (the conversations the probes draw)."""
