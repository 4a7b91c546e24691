"""Supervised fine-tuning (`method: sft`): validate (gate) ► audit (gate) ► stats ► prepare ►
TRL's SFTTrainer ► save, over the shared steps of training/steps.py.

The supervision audit, with the model's tokenizer and the chosen template, stops the run on rows
that would train nothing or never learn to stop (unless `on_audit_error` says otherwise); the
rows it passes are prepared (tokens and assistant masks from the registry's spans) and checked
against TRL's own preparation of sampled rows.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from training.config import ConfigError, TrainConfig
from training.steps import (SUPERVISION_CODES, RunSummary, choose_template, gate, is_main_process, lora_config, plain,
                            say, split_eval, train, training_data, write_report)
from training.errors import InvalidDataset
from training.mixture import audit_by_source, trained_per_source
from training.text import check_text_against_trl, is_language_model, text_rows, text_rows_of
from validation.report import Console
from validation.summaries import Leakage

if TYPE_CHECKING:
    from templating.registry import ChatTemplate


def supervise(config: TrainConfig, tokenizer: Any, template: ChatTemplate, out: Path | None,
              console: Console | None = None, path: str | None = None, split: str | None = None,
              data: Any = None) -> tuple[list[Any], Any]:
    """The supervision audit with the real tokenizer and template: (rows to train on, report) of
    `data` (an open `Dataset`), of the file at `path` (the eval set), else of the config's dataset.

    Rows left out: over max_length under `over_length: drop`, and rows with audit errors under
    `on_audit_error: drop`; with `stop` such errors raise `InvalidDataset`.
    """
    from templating.supervision.dataset import audit_rows

    with contextlib.ExitStack() as stack:
        if data is None and path is None:
            data = stack.enter_context(training_data(config))
        elif data is None:  # the eval file, with the training data's column mapping
            from validation.readers.source import dataset_of

            data = stack.enter_context(dataset_of(path, split=split or "train", columns=config.columns))
        report, audited = audit_rows(data, tokenizer=tokenizer,
                                     template=template.rules,
                                     max_length=None if config.packing else config.max_length,
                                     over_length=config.over_length, progress=is_main_process(),
                                     response_schema=config.response_schema, response_scope=config.response_scope,
                                     train_on=config.train_on)
    if out is not None:
        write_report(out / "audit.json", json.dumps(report.to_json(), ensure_ascii=False, indent=1))
    if path is None:  # (the training rows: a mixture's findings per source too)
        audit_by_source(config, report, out, console)
    errors = {i.row for i in report.issues if i.severity == "error" and i.code in SUPERVISION_CODES}
    s = report.summary
    say(console, f"audit: {s.supervised_tokens:,} of {s.tokens:,} tokens supervised; "
                    + (", ".join(f"{c} in {n} rows" for c, n in s.rows_with.items()) or "no findings"))
    if errors and config.on_audit_error == "stop":
        raise InvalidDataset(report, stage="audit")
    keep = [a for row, a in audited if not a.dropped and (row not in errors or config.on_audit_error == "warn")]
    if len(keep) < len(audited):
        say(console, f"[yellow]left out {len(audited) - len(keep)} rows (over_length: {config.over_length}, "
                        f"on_audit_error: {config.on_audit_error})[/]")
    if not keep:
        raise ConfigError(f"{report.path}: no row left to train on ({len(audited)} audited, all left out by "
                          f"over_length: {config.over_length} / on_audit_error: {config.on_audit_error}); see "
                          f"{'audit.json' if out is not None else 'instructkit audit'}")
    return keep, report


def leakage(train: list[Any], held_out: list[Any]) -> Leakage:
    """Eval rows that repeat a training row, exactly and after case/whitespace folding (what
    `stats --compare` counts)."""
    from validation.statistics.conversations import leakage_of_rows

    return leakage_of_rows(train, held_out)


def preview(example: dict[str, Any], tokenizer: Any, console: Console | None) -> None:
    """One prepared example decoded, trained tokens highlighted (what --dry-run shows)."""
    from rich.text import Text

    text = Text()
    mask = example.get("assistant_masks") or [1] * len(example["input_ids"])
    for token, trained in zip(example["input_ids"], mask):
        text.append(tokenizer.decode([token]), style="bold green" if trained else "dim")
    console.print("[bold]first training example[/] ([bold green]trained[/] / [dim]context[/]):")
    console.print(text, markup=False, highlight=False)


def run_sft(config: TrainConfig, out: Path, dry_run: bool, console: Console | None) -> RunSummary | None:
    from validation import stats as dataset_stats
    from training.models import load_model
    from training.prepare import check_against_trl, tokenized_dataset

    from validation.readers.source import open_dataset

    from training.models import is_vision_model
    from training.vision import run_vision_sft

    if is_vision_model(config.model):  # images through TRL's vision collator (training/vision.py)
        return run_vision_sft(config, out, dry_run, console)
    write_report(out / "config.yaml", yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False))
    sample_tools = config.tools_for_samples()  # read now: a missing file stops the run before training
    with training_data(config) as data:  # opened once: the gate and the audit read it
        if data.format.shape == "prompt":
            raise ConfigError(f"method sft trains on replies; {data.name} is prompt-only (prompts to generate from, "
                              "GRPO-style), which holds none. instructkit checks such data (validate --format "
                              "prompt-only --reward-columns ...) but does not run GRPO: pass the rows to TRL's "
                              "GRPOTrainer, or give conversations with replies for sft")
        validation_report = gate(config, out, console, data)
        from training.levers.device import attention, detect_device

        padding_free = config.trainer.get("padding_free", not config.packing)
        model, tokenizer, provenance = load_model(config.model, attention(detect_device(), padding_free=padding_free,
                                                                          choice=config.attention))
        say(console, f"model: {plain(provenance)}")
        template = choose_template(config, model, tokenizer, console)
        language_model = is_language_model(config, data)
        if language_model:  # every token of the text, no chat template (training/text.py)
            rows, audit_report = text_rows(data, tokenizer, config, template.rules)
            write_report(out / "audit.json", json.dumps(audit_report.to_json(), ensure_ascii=False, indent=1))
            column = data.format.column
            say(console, f"audit: format text trains as a language model: all {audit_report.summary.tokens:,} tokens "
                         "of the texts, EOS appended, no chat template (text_as: chat wraps them in the template)")
        else:
            rows, audit_report = supervise(config, tokenizer, template, out, console, data=data)
    audited = open_dataset([{"messages": [m.to_dict() for m in r.messages]} for r in rows], format="messages")
    summary = dataset_stats(audited, tokenizer=tokenizer, template=None if language_model else template.rules,
                            max_length=config.max_length, audits=rows).summary
    summary = summary.model_copy(update={"supervision": audit_report.summary})
    train_rows, eval_rows = split_eval(rows, config, lambda path, split: text_rows_of(
        path, split, column, tokenizer, config) if language_model else supervise(
        config, tokenizer, template, None, path=path, split=split)[0])
    if eval_rows:
        leaked = leakage(train_rows, eval_rows)
        summary = summary.model_copy(update={"leakage": leaked})
        if leaked.b_rows_in_a_normalised:
            say(console, f"[bold yellow]warning: {leaked.b_rows_in_a_normalised} eval rows repeat training "
                            f"rows ({leaked.b_rows_in_a_exact} exactly): eval loss will look better than it is[/]")
    write_report(out / "stats.json", json.dumps(summary.to_json(), ensure_ascii=False, indent=1))
    trunc, tokens = summary.max_length, summary.tokens
    assert trunc is not None and tokens is not None  # a tokenizer and max_length were given
    say(console, f"stats: {summary.rows} conversations, {tokens.total:,} tokens, "
                    f"{tokens.trainable_share:.0%} trainable; {trunc.over} over max_length "
                    f"{config.max_length} ({trunc.lose_assistant_tokens} lose assistant tokens)")
    truncate = None if config.packing else config.max_length  # packing chunks to max_length itself
    train_set = tokenized_dataset(train_rows, assistant_only_loss=config.assistant_only_loss, max_length=truncate)
    eval_set = tokenized_dataset(eval_rows, assistant_only_loss=config.assistant_only_loss,
                                 max_length=truncate) if eval_rows else None
    checked = check_text_against_trl(train_rows, tokenizer, train_set, truncate) if language_model else \
        check_against_trl(train_rows, tokenizer, template, train_set, max_length=truncate)
    say(console, f"prepare: {len(train_rows)} train / {len(eval_rows)} eval conversations; tokens and masks "
                    f"agree with TRL's on {checked} sampled rows")
    if dry_run:
        if console is not None:
            preview(train_set[0], tokenizer, console)
        return None
    dropped = validation_report.rows - len(rows)
    from training.samples import prompts_of

    checked = eval_rows[:config.stop_check_rows]
    held_out = prompts_of([r.messages for r in checked], [r.tools for r in checked])
    return train(config, out, model, tokenizer, template,
                 lambda args: sft_trainer(config, model, args, train_set, eval_set, tokenizer),
                 (len(train_set), len(eval_set or [])), held_out, dropped, provenance, console, sample_tools,
                 raw=language_model,
                 untrained_end=audit_report.summary.rows_with.get("end-of-turn-not-supervised", 0),
                 sources=trained_per_source(config.mixture_sources, [r.row for r in train_rows],
                                            config.mixture_names)
                 if config.mixture_sources else None)


def sft_trainer(config: TrainConfig, model: Any, args: Any, train_set: Any, eval_set: Any, tokenizer: Any) -> Any:
    from trl import SFTTrainer

    from training.levers.batches import TokenBudgetTrainer

    budget = {} if config.token_budget is None else {"token_budget": config.token_budget}
    return (TokenBudgetTrainer if budget else SFTTrainer)(model=model, args=args, train_dataset=train_set,
                                                         eval_dataset=eval_set, processing_class=tokenizer,
                                                         peft_config=lora_config(config), **budget)
