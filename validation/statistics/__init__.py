"""Statistics: Polars frames and the summaries built from them. `frames` (one row per message
and per conversation, from any source), `parts` (the C reader, started before Polars loads),
`conversations` (`stats` and its summary), `pairs` (preference data), `report` (terminal
tables, PNG, HTML), `lazy` (modules imported at first use)."""
