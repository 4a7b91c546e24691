"""Checking: what is wrong with a row, named by code, path and row. `messages` (the per-row
checks and the fast path's Python side), `rules` (what a template refuses), `tools`,
`reasoning`, `pairs` (preference rows), `fix` (mechanical repairs), `duplicates`, `prover` (the C
prover `validation._rowscan` and its hashes), `scan` (rows chunk by chunk) and `parallel`
(a JSONL file in blocks, in worker processes); `fold` writes the C prover's Unicode table."""
