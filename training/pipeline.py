"""The training pipeline: validate (gate) ► audit (gate) ► stats ► prepare ► train ► save.

An invalid dataset stops the run with its report before any model is loaded (unless the config
says `on_invalid: drop`); the supervision audit, with the model's tokenizer and the chosen
template, stops it on rows that would train nothing or never learn to stop (unless
`on_audit_error` says otherwise). The output folder holds the model, the tokenizer with the chat
template used in training, its fingerprint, the validation and audit reports, the stats, the
resolved config, the metrics and the before/after samples with stop rates.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import random
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml

from training.config import ConfigError, TrainConfig
from training.device import cpu_has_native_bf16  # noqa: F401  (re-exported: its older home)
from validation.errors import InvalidDataset, PushFailed  # re-exported here
from validation.outputs import write_file

log = logging.getLogger("instructkit")
# Audit codes that concern what training learns; the validation codes are the gate's.
SUPERVISION_CODES = frozenset({"prompt-fills-max-length", "identical-after-truncation",  # pairs (pair_audit.py)
                               "response-not-supervised", "end-of-turn-not-supervised", "truncated-to-nothing",
                               "over-length", "double-bos", "special-token-in-content", "template-refused",
                               "call-not-supervised", "tool-result-supervised"})


@dataclass
class RunSummary:
    output_dir: str
    model: str
    template: str
    train_rows: int
    eval_rows: int
    dropped_rows: int
    steps: int
    seconds: float
    train_tokens: int
    tokens_per_second: float
    first_loss: float | None
    final_loss: float | None
    eval_loss: float | None
    device: str
    precision: str
    stop_rate_before: float | None = None
    stop_rate_after: float | None = None
    # dpo and kto: the mean reward margin (chosen minus rejected; KTO: desirable minus undesirable) and,
    # for dpo, the share of pairs whose chosen reply the model rewards more, at the first and last logged step
    reward_margin_first: float | None = None
    reward_margin_last: float | None = None
    reward_accuracy_first: float | None = None
    reward_accuracy_last: float | None = None


def is_main_process() -> bool:
    """Rank 0 under torchrun / accelerate launch (and the only process otherwise)."""
    return int(os.environ.get("RANK", "0")) == 0


def _write(path: Path, text: str) -> None:
    """Reports are written once, by the main process, even when several processes train."""
    if is_main_process():
        write_file(path, text)


def _print(console: Any, message: str, *, markup: bool = True) -> None:
    """Print on the main process. Text from data, models or paths goes through `_text` first."""
    if console is not None and is_main_process():
        console.print(message, markup=markup, highlight=markup)


def _text(value: Any) -> str:
    """`value` as text that rich prints as it is ([/INST] is a token, not a closing tag)."""
    from rich.markup import escape

    return escape(str(value))


@contextlib.contextmanager
def training_data(config: TrainConfig) -> Iterator[Any]:
    """The training `Dataset` for a block: the one the config holds (left open), or the config's
    file opened once and closed when the block ends (the gate and the audit read through it)."""
    from validation.source import Dataset, dataset_of

    source = config.dataset
    if isinstance(source, Dataset):
        yield source
        return
    with dataset_of(source.path, format=source.format, column=source.column, split=source.split) as data:
        yield data


def gate(config: TrainConfig, out: Path, console: Any = None, data: Any = None) -> Any:
    """Validate the dataset (`data`, else the config's) before any model is loaded; the report.
    Raises `InvalidDataset`."""
    from validation import validate
    from validation.report import MAX_ISSUES

    template = None if config.template == "auto" else config.template
    with contextlib.nullcontext(data) if data is not None else training_data(config) as data:
        report = validate(data, template=template, max_length=None, max_issues=MAX_ISSUES,
                          response_schema=config.response_schema, response_scope=config.response_scope)
    _write(out / "validation.json", json.dumps(report.to_json(), ensure_ascii=False, indent=1))
    _print(console, f"validate: {report.rows} rows, {report.valid} valid, {report.invalid} invalid")
    if report.invalid and config.on_invalid == "stop":
        raise InvalidDataset(report)
    if report.invalid:
        _print(console, f"[yellow]dropped {report.invalid} invalid rows (on_invalid: drop)[/]")
    return report


def supervise(config: TrainConfig, tokenizer: Any, template: Any, out: Path | None, console: Any = None,
              path: str | None = None, split: str | None = None, data: Any = None) -> tuple[list[Any], Any]:
    """The supervision audit with the real tokenizer and template: (rows to train on, report) of
    `data` (an open `Dataset`), of the file at `path` (the eval set), else of the config's dataset.

    Rows left out: over max_length under `over_length: drop`, and rows with audit errors under
    `on_audit_error: drop`; with `stop` such errors raise `InvalidDataset`.
    """
    from templating.rules import rules_of
    from validation.audit import audit_rows

    with contextlib.ExitStack() as stack:
        if data is None and path is None:
            data = stack.enter_context(training_data(config))
        report, audited = audit_rows(data if data is not None else path, tokenizer=tokenizer,
                                     template=rules_of(template),
                                     max_length=None if config.packing else config.max_length,
                                     over_length=config.over_length, progress=is_main_process(),
                                     response_schema=config.response_schema, response_scope=config.response_scope,
                                     train_on=config.train_on,
                                     **({} if data is not None else {"split": split or "train"}))
    if out is not None:
        _write(out / "audit.json", json.dumps(report.to_json(), ensure_ascii=False, indent=1))
    errors = {i.row for i in report.issues if i.severity == "error" and i.code in SUPERVISION_CODES}
    s = report.summary
    _print(console, f"audit: {s.supervised_tokens:,} of {s.tokens:,} tokens supervised; "
                    + (", ".join(f"{c} in {n} rows" for c, n in s.rows_with.items()) or "no findings"))
    if errors and config.on_audit_error == "stop":
        raise InvalidDataset(report, stage="audit")
    keep = [a for row, a in audited if not a.dropped and (row not in errors or config.on_audit_error == "warn")]
    if len(keep) < len(audited):
        _print(console, f"[yellow]left out {len(audited) - len(keep)} rows (over_length: {config.over_length}, "
                        f"on_audit_error: {config.on_audit_error})[/]")
    if not keep:
        raise ConfigError(f"{report.path}: no row left to train on ({len(audited)} audited, all left out by "
                          f"over_length: {config.over_length} / on_audit_error: {config.on_audit_error}); see "
                          f"{'audit.json' if out is not None else 'instructkit audit'}")
    return keep, report


def choose_template(config: TrainConfig, model: Any, tokenizer: Any, console: Any = None) -> Any:
    """The registry template to train with; a template-less tokenizer gets it installed."""
    from templating import compare_template, detect_template, get_template
    from training.models import setup_chat_format

    if not getattr(tokenizer, "chat_template", None):
        name = "chatml" if config.template == "auto" else config.template
        setup_chat_format(model, tokenizer, name)
        _print(console, f"template: the tokenizer had none; installed {name} (special tokens added, embeddings "
                        f"resized to {len(tokenizer)})")
        return get_template(name)
    if config.template == "auto":
        name = detect_template(tokenizer)
        if name is None:
            raise ConfigError("template: auto: the model's chat template is not one the registry knows; name "
                              "one with `template: NAME` (see `instructkit templates`)")
        _print(console, f"template: auto → {name} (the model's own)")
        return get_template(name)
    warning = compare_template(tokenizer, config.template)
    if warning:
        _print(console, f"[yellow]warning: {_text(warning)}[/]")
    return get_template(config.template)


def split_eval(rows: list[Any], config: TrainConfig, read: Any) -> tuple[list[Any], list[Any]]:
    """(train rows, eval rows): the eval file's rows (`read(path, split)`), a seeded share of
    `rows` held out (`eval.ratio`), or none."""
    if config.eval is None:
        return rows, []
    if config.eval.path:
        return rows, read(config.eval.path, config.eval.split or "train")
    if config.eval.ratio:
        shuffled = rows[:]
        random.Random(config.seed).shuffle(shuffled)
        size = max(1, round(len(shuffled) * config.eval.ratio))
        return shuffled[size:], shuffled[:size]
    return rows, []


def leakage(train: list[Any], held_out: list[Any]) -> dict[str, int]:
    """Eval rows that repeat a training row, exactly and after case/whitespace folding (what
    `stats --compare` counts)."""
    from validation.stats import leakage_of_rows

    return leakage_of_rows(train, held_out)


def sft_config(config: TrainConfig, out: Path, has_eval: bool, device: Any = None) -> tuple[Any, str, str]:
    """TRL's config of the method (`SFTConfig`, `DPOConfig` or `KTOConfig`) with the defaults of
    `device` (detected when not given: training/device.py); (config, device kind, precision)."""
    import trl

    from training.config import TRAINER_CONFIGS, trainer_fields
    from training.device import detect, sft_defaults

    device = device or detect()
    if device.kind == "cpu" and config.cpu_allocator:
        from training.allocator import keep_freed_memory

        keep_freed_memory()
    defaults = sft_defaults(device, packing=config.packing, has_eval=has_eval)
    # push_to_hub is done by the pipeline after saving, so an unreachable hub is one clear message.
    if "gradient_checkpointing" in config.trainer:  # the older name (deprecated in transformers 5) wins when set
        defaults.pop("activation_checkpointing")
    settings = {**defaults, **config.trainer, "push_to_hub": False, "output_dir": str(out),
                "max_length": config.max_length, "seed": config.seed}
    if config.method == "sft":
        settings.update(packing=config.packing, assistant_only_loss=False)
        if settings.get("padding_free") and not config.packing:
            settings["max_length"] = None  # TRL refuses to truncate padding-free rows: prepare already did
    else:  # pairs are padded (padding-free pairs need FlashAttention in TRL)
        settings["padding_free"] = config.trainer.get("padding_free", False)
        known = trainer_fields(config.method)
        settings = {k: v for k, v in settings.items() if k in known}
    try:
        made = getattr(trl, TRAINER_CONFIGS[config.method])(**settings)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{config.method}: {exc}") from None
    return made, device.kind, "bf16" if settings["bf16"] else "fp32"


def _lora(config: TrainConfig) -> Any:
    if config.lora is None:
        return None
    try:
        from peft import LoraConfig
    except ImportError:
        raise ConfigError("lora: needs peft; pip install 'instructkit[lora]'") from None
    return LoraConfig(r=config.lora.r, lora_alpha=config.lora.alpha, lora_dropout=config.lora.dropout,
                      target_modules=config.lora.target_modules, task_type="CAUSAL_LM")


def preview(example: dict[str, Any], tokenizer: Any, console: Any) -> None:
    """One prepared example decoded, trained tokens highlighted (what --dry-run shows)."""
    from rich.text import Text

    text = Text()
    mask = example.get("assistant_masks") or [1] * len(example["input_ids"])
    for token, trained in zip(example["input_ids"], mask):
        text.append(tokenizer.decode([token]), style="bold green" if trained else "dim")
    console.print("[bold]first training example[/] ([bold green]trained[/] / [dim]context[/]):")
    console.print(text, markup=False, highlight=False)


def run(config: TrainConfig, *, dry_run: bool = False, console: Any = None) -> RunSummary | None:
    """Run the pipeline in `config.output_dir` (claimed and locked: training/rundir.py); returns
    the summary (None for a dry run)."""

    from training.rundir import claim, locked

    out = Path(config.output_dir)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"output_dir {out} is a file, not a folder")
    out.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        if is_main_process():  # one process owns the folder; the others write through the trainer
            stack.enter_context(locked(out))
            note = claim(out, overwrite=config.overwrite, resume=config.resume)
            if note:
                _print(console, _text(note))
        if config.method != "sft":
            from training.preference import run_preference

            return run_preference(config, out, dry_run, console)
        return _run(config, out, dry_run, console)


def _run(config: TrainConfig, out: Path, dry_run: bool, console: Any) -> RunSummary | None:
    from validation import stats as dataset_stats
    from training.models import load_model
    from training.prepare import check_against_trl, tokenized_dataset

    from templating.rules import rules_of
    from validation.source import open_dataset

    _write(out / "config.yaml", yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False))
    sample_tools = config.tools_for_samples()  # read now: a missing file stops the run before training
    with training_data(config) as data:  # opened once: the gate and the audit read it
        validation_report = gate(config, out, console, data)
        from training.device import attention, detect

        padding_free = config.trainer.get("padding_free", not config.packing)
        model, tokenizer, provenance = load_model(config.model, attention(detect(), padding_free=padding_free,
                                                                          choice=config.attention))
        _print(console, f"model: {_text(provenance)}")
        template = choose_template(config, model, tokenizer, console)
        rows, audit_report = supervise(config, tokenizer, template, out, console, data=data)
    audited = open_dataset([{"messages": [m.to_dict() for m in r.messages]} for r in rows], format="messages")
    summary = dataset_stats(audited, tokenizer=tokenizer, template=rules_of(template), max_length=config.max_length,
                            audits=rows).summary
    summary = summary.model_copy(update={"supervision": audit_report.summary})
    train_rows, eval_rows = split_eval(rows, config, lambda path, split: supervise(
        config, tokenizer, template, None, path=path, split=split)[0])
    if eval_rows:
        leaked = leakage(train_rows, eval_rows)
        summary = summary.model_copy(update={"leakage": leaked})
        if leaked["b_rows_in_a_normalised"]:
            _print(console, f"[bold yellow]warning: {leaked['b_rows_in_a_normalised']} eval rows repeat training "
                            f"rows ({leaked['b_rows_in_a_exact']} exactly): eval loss will look better than it is[/]")
    _write(out / "stats.json", json.dumps(summary.to_json(), ensure_ascii=False, indent=1))
    trunc, tokens = summary.max_length, summary.tokens
    assert trunc is not None and tokens is not None  # a tokenizer and max_length were given
    _print(console, f"stats: {summary.rows} conversations, {tokens.total:,} tokens, "
                    f"{tokens.trainable_share:.0%} trainable; {trunc.over} over max_length "
                    f"{config.max_length} ({trunc.lose_assistant_tokens} lose assistant tokens)")
    truncate = None if config.packing else config.max_length  # packing chunks to max_length itself
    train_set = tokenized_dataset(train_rows, assistant_only_loss=config.assistant_only_loss, max_length=truncate)
    eval_set = tokenized_dataset(eval_rows, assistant_only_loss=config.assistant_only_loss,
                                 max_length=truncate) if eval_rows else None
    checked = check_against_trl(train_rows, tokenizer, template, train_set, max_length=truncate)
    _print(console, f"prepare: {len(train_rows)} train / {len(eval_rows)} eval conversations; tokens and masks "
                    f"agree with TRL's on {checked} sampled rows")
    if dry_run:
        if console is not None:
            preview(train_set[0], tokenizer, console)
        return None
    dropped = validation_report.rows - len(rows)
    from training.samples import prompts_of

    checked = eval_rows[:config.stop_check_rows]
    held_out = prompts_of([r.messages for r in checked], [r.tools for r in checked])
    return _train(config, out, model, tokenizer, template, train_set, eval_set, held_out, dropped, provenance,
                  console, sample_tools)


def _sft_trainer(config: TrainConfig, model: Any, args: Any, train_set: Any, eval_set: Any, tokenizer: Any) -> Any:
    from trl import SFTTrainer

    from training.batches import TokenBudgetTrainer

    budget = {} if config.token_budget is None else {"token_budget": config.token_budget}
    return (TokenBudgetTrainer if budget else SFTTrainer)(model=model, args=args, train_dataset=train_set,
                                                         eval_dataset=eval_set, processing_class=tokenizer,
                                                         peft_config=_lora(config), **budget)


def _train(config: TrainConfig, out: Path, model: Any, tokenizer: Any, template: Any, train_set: Any,
           eval_set: Any, held_out: list[Any], dropped: int, provenance: str, console: Any,
           sample_tools: list[Any] | None) -> RunSummary:
    """Train with the method's trainer (SFT here; DPO and KTO: training/preference.py), with the
    samples before and after, and save the run."""
    from training import fingerprint
    from training.rundir import last_checkpoint, mark
    from training.samples import generate, stop_ids, stop_rate, write_samples

    def replies(m: Any) -> tuple[list[Any], list[Any]]:
        return (generate(m, tokenizer, template, config.sample_prompts, max_new_tokens=config.max_new_tokens,
                         tools=sample_tools),
                generate(m, tokenizer, template, held_out, max_new_tokens=config.max_new_tokens))

    before, before_held = replies(model)
    args, device, precision = sft_config(config, out, eval_set is not None)
    tokenizer.chat_template = template.jinja  # the saved tokenizer carries the template trained with
    stops = stop_ids(tokenizer, template)
    model.generation_config.eos_token_id = stops  # generation stops at the end-of-turn token
    if config.method == "sft":
        trainer = _sft_trainer(config, model, args, train_set, eval_set, tokenizer)
    else:
        from training.preference import preference_trainer

        trainer = preference_trainer(config, model, args, train_set, eval_set, tokenizer, _lora(config))
    resume = last_checkpoint(out) if config.resume else None
    if config.resume:
        _print(console, f"resume: from {_text(resume)}" if resume else "resume: no complete checkpoint yet; "
                                                                       "starting from step 0")
    started = time.perf_counter()
    result = trainer.train(resume_from_checkpoint=resume)
    seconds = time.perf_counter() - started
    trainer.save_model(str(out))  # the trainer saves on the main process only
    if is_main_process():
        tokenizer.save_pretrained(str(out))
        model.generation_config.save_pretrained(str(out))
        fingerprint.write(out, fingerprint.fingerprint(tokenizer, template, stops))
    history = trainer.state.log_history
    losses = [h["loss"] for h in history if "loss" in h]
    evals = [h["eval_loss"] for h in history if "eval_loss" in h]
    tokens = int(max((float(h.get("num_tokens", 0)) for h in history), default=0))  # TRL counts them
    after, after_held = replies(trainer.model)
    rates = {"sample prompts": {"n": len(before), "before": stop_rate(before), "after": stop_rate(after)},
             "held-out eval rows": {"n": len(before_held), "before": stop_rate(before_held),
                                    "after": stop_rate(after_held)}}
    if (config.sample_prompts or held_out) and is_main_process():
        text = write_samples(out / "samples.md", config.sample_prompts, before, after, rates)
        _print(console, text, markup=False)  # the model's replies, as they are
    rate_before, rate_after = stop_rate(before + before_held), stop_rate(after + after_held)
    if rate_before is not None and rate_after is not None and rate_after < rate_before:
        _print(console, f"[bold red]WARNING: the model stops less often after training ({rate_before:.0%} → "
                        f"{rate_after:.0%} of replies end with a stop token): check that the end-of-turn token is "
                        "trained (`instructkit audit`)[/]")
    margins = [h["rewards/margins"] for h in history if "rewards/margins" in h]
    accuracies = [h["rewards/accuracies"] for h in history if "rewards/accuracies" in h]
    summary = RunSummary(str(out), provenance, template.name, len(train_set), len(eval_set or []), dropped,
                         result.global_step, round(seconds, 1), tokens, round(tokens / seconds, 1) if seconds else 0.0,
                         losses[0] if losses else None, losses[-1] if losses else None, evals[-1] if evals else None,
                         device, precision, rate_before, rate_after, margins[0] if margins else None,
                         margins[-1] if margins else None, accuracies[0] if accuracies else None,
                         accuracies[-1] if accuracies else None)
    _write(out / "metrics.json", json.dumps({"summary": asdict(summary), "stop_rates": rates,
                                             "log_history": history}, indent=1))
    if is_main_process():
        mark(out, finished=True)  # verify and generate accept the folder from now on
    if config.trainer.get("push_to_hub") and is_main_process():
        _push(trainer, config, out)
    return summary


def _push(trainer: Any, config: TrainConfig, out: Path) -> None:
    trainer.args.hub_model_id = config.trainer.get("hub_model_id") or trainer.args.hub_model_id
    try:
        trainer.push_to_hub()
    except Exception as exc:  # the hub client raises many types; all mean "not pushed"
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise PushFailed(f"push_to_hub: the model is saved in {out} but could not be pushed to the Hugging Face "
                         f"hub ({reason}); push later with `huggingface-cli upload` when online") from None
