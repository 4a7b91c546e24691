"""Reading: bytes to rows, rows to a source format's messages. One module per job: `decode`
(one JSON row, or why not), `files` (JSONL, JSON array, Parquet, CSV, `save_to_disk` folders,
hub datasets), `source` (the `Dataset` handle every pass reads through), `formats` (detect a
format, rows to and from messages), `pairs` (preference rows). Names are imported from the
modules; `validation` re-exports the public ones."""
