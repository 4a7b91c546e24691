"""The training pipeline: validate (gate) ► audit (gate) ► stats ► prepare ► train ► save.

An invalid dataset stops the run with its report before any model is loaded (unless the config
says `on_invalid: drop`); the supervision audit, with the model's tokenizer and the chosen
template, stops it on rows that would train nothing or never learn to stop (unless
`on_audit_error` says otherwise). The output folder holds the model, the tokenizer with the chat
template used in training, its fingerprint, the validation and audit reports, the stats, the
resolved config, the metrics and the before/after samples with stop rates.

This module claims the output folder and hands the run to its method: training/sft.py or
training/preference.py (DPO, KTO), siblings over the shared steps of training/steps.py.
"""

from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path

from training.config import ConfigError, TrainConfig
from training.steps import RunSummary, is_main_process, plain, say
from validation.report import Console


def dry_run_folder() -> contextlib.AbstractContextManager[str]:
    """Where a dry run writes its reports: a temporary folder, removed when the run ends."""
    return tempfile.TemporaryDirectory(prefix="instructkit-dry-run-")


def run(config: TrainConfig, *, dry_run: bool = False, console: Console | None = None) -> RunSummary | None:
    """Run the pipeline in `config.output_dir` (claimed and locked: training/rundir.py); returns
    the summary (None for a dry run). A dry run checks that output_dir could be used and writes
    nothing there: its reports go to a temporary folder, removed at the end."""
    from training.rundir import claim, locked, may_claim

    out = Path(config.output_dir)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"output_dir {out} is a file, not a folder")
    with contextlib.ExitStack() as stack:
        if dry_run:
            note = may_claim(out, overwrite=config.overwrite, resume=config.resume)
            if note:
                say(console, plain(note))
            out = Path(stack.enter_context(dry_run_folder()))
        else:
            out.mkdir(parents=True, exist_ok=True)
        if is_main_process() and not dry_run:  # one process owns the folder; the others write through the trainer
            stack.enter_context(locked(out))
            note = claim(out, overwrite=config.overwrite, resume=config.resume)
            if note:
                say(console, plain(note))
        if isinstance(config.dataset, list):  # a mixture: each source checked and sampled, then one file
            from training.mixture import build

            config, mixture = build(config, out, console)
            config._mixture_sources = mixture.sources
            config._mixture_names = [entry["name"] for entry in mixture.entries]
        if config.near_dup is not None or config.decontaminate is not None:
            from training.corpus import corpus_gate

            config = corpus_gate(config, out, console)
        if config.method != "sft":
            from training.preference import run_preference

            return run_preference(config, out, dry_run, console)
        from training.sft import run_sft

        return run_sft(config, out, dry_run, console)
