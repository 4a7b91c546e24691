"""The steps every training method shares: the validation gate, the template, the eval split,
TRL's trainer arguments, and the training run itself with its samples, metrics and save. Each
method (training/sft.py, training/preference.py) strings them together with its own
preparation and trainer; training/pipeline.py picks the method.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from training.config import ConfigError, TrainConfig
from training.errors import InvalidDataset, PushFailed
from validation.errors import first_line
from validation.outputs import write_file
from validation.report import Console

if TYPE_CHECKING:
    from templating.registry import ChatTemplate

# Audit codes that concern what training learns; the validation codes are the gate's.
SUPERVISION_CODES = frozenset({"prompt-fills-max-length", "identical-after-truncation",  # pairs (supervision/pairs.py)
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
    sources: dict[str, int] | None = None  # a mixture: the rows of each source trained (training/mixture.py)


def is_main_process() -> bool:
    """Rank 0 under torchrun / accelerate launch (and the only process otherwise)."""
    return int(os.environ.get("RANK", "0")) == 0


def write_report(path: Path, text: str) -> None:
    """Reports are written once, by the main process, even when several processes train."""
    if is_main_process():
        write_file(path, text)


def say(console: Console | None, message: str, *, markup: bool = True) -> None:
    """Print on the main process. Text from data, models or paths goes through `plain` first."""
    if console is not None and is_main_process():
        console.print(message, markup=markup, highlight=markup)


def plain(value: Any) -> str:
    """`value` as text that rich prints as it is ([/INST] is a token, not a closing tag)."""
    from rich.markup import escape

    return escape(str(value))


@contextlib.contextmanager
def training_data(config: TrainConfig) -> Iterator[Any]:
    """The training `Dataset` for a block: the one the config holds (left open), or the config's
    file opened once and closed when the block ends (the gate and the audit read through it)."""
    from validation.readers.source import Dataset, dataset_of

    source = config.dataset
    if isinstance(source, Dataset):
        yield source
        return
    with dataset_of(source.path, format=source.format, column=source.column, split=source.split,
                    columns=source.columns, subset=source.subset) as data:
        yield data


def gate(config: TrainConfig, out: Path, console: Console | None = None, data: Any = None) -> Any:
    """Validate the dataset (`data`, else the config's) before any model is loaded; the report.
    Raises `InvalidDataset`."""
    from templating.resolve import resolve_template
    from validation import validate
    from validation.report import MAX_ISSUES

    # the config's template resolved (a Jinja file's special tokens from the model's tokenizer)
    template = None if config.template == "auto" else resolve_template(config.template, tokenizer=config.model)
    with contextlib.nullcontext(data) if data is not None else training_data(config) as data:
        report = validate(data, template=template, max_length=None, max_issues=MAX_ISSUES,
                          response_schema=config.response_schema, response_scope=config.response_scope)
    write_report(out / "validation.json", json.dumps(report.to_json(), ensure_ascii=False, indent=1))
    say(console, f"validate: {report.rows} rows, {report.valid} valid, {report.invalid} invalid")
    if report.invalid and config.on_invalid == "stop":
        raise InvalidDataset(report)
    if report.invalid:
        say(console, f"[yellow]dropped {report.invalid} invalid rows (on_invalid: drop)[/]")
    return report


def choose_template(config: TrainConfig, model: Any, tokenizer: Any, console: Console | None = None) -> Any:
    """The template to train with (a registry name, a Jinja file, or the model's own with `auto`);
    a template-less tokenizer gets it installed."""
    from templating import compare_template, detect_template, get_template
    from templating.resolve import resolve_template
    from training.models import setup_chat_format

    if not getattr(tokenizer, "chat_template", None):
        chosen = resolve_template("chatml" if config.template == "auto" else config.template, tokenizer=tokenizer)
        setup_chat_format(model, tokenizer, chosen)
        say(console, f"template: the tokenizer had none; installed {plain(chosen.name)} (special tokens added, "
                     f"embeddings resized to {len(tokenizer)})")
        return chosen
    if config.template == "auto":
        name = detect_template(tokenizer)
        if name is None:
            raise ConfigError("template: auto: the model's chat template is not one the registry knows; name "
                              "one with `template: NAME` (see `instructkit templates`) or `template: FILE.jinja`")
        say(console, f"template: auto → {name} (the model's own)")
        return get_template(name)
    chosen = resolve_template(config.template, tokenizer=tokenizer)
    warning = compare_template(tokenizer, chosen)
    if warning:
        say(console, f"[yellow]warning: {plain(warning)}[/]")
    return chosen


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


def trainer_args(config: TrainConfig, out: Path, has_eval: bool, device: Any = None) -> tuple[Any, str, str]:
    """TRL's config of the method (`SFTConfig`, `DPOConfig` or `KTOConfig`) with the defaults of
    `device` (detected when not given: training/levers/device.py); (config, device kind, precision)."""
    import trl

    from training.config import TRAINER_CONFIGS, trainer_fields
    from training.levers.device import detect_device, sft_defaults

    device = device or detect_device()
    if device.kind == "cpu" and config.cpu_allocator:
        from training.levers.allocator import keep_freed_memory

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


def lora_config(config: TrainConfig) -> Any:
    if config.lora is None:
        return None
    try:
        from peft import LoraConfig
    except ImportError:
        raise ConfigError("lora: needs peft; pip install 'instructkit[lora]'") from None
    return LoraConfig(r=config.lora.r, lora_alpha=config.lora.alpha, lora_dropout=config.lora.dropout,
                      target_modules=config.lora.target_modules, task_type="CAUSAL_LM")


def train(config: TrainConfig, out: Path, model: Any, tokenizer: Any, template: ChatTemplate,
          make_trainer: Callable[[Any], Any], sizes: tuple[int, int], held_out: list[Any], dropped: int,
          provenance: str, console: Console | None, sample_tools: list[Any] | None, *, raw: bool = False,
          untrained_end: int = 0, sources: dict[str, int] | None = None,
          replies: Callable[[Any], tuple[list[Any], list[Any]]] | None = None) -> RunSummary:
    """Train with the trainer `make_trainer(args)` builds (each method's own: training/sft.py,
    training/preference.py) on `sizes` (train rows, eval rows), with the samples before and after,
    and save the run. `raw`: the model learns text (format: text), so the sample prompts are
    continued as text, without the chat template. `untrained_end`: rows trained although the audit
    found their end-of-turn token unsupervised (`on_audit_error: warn`), for the stop diagnosis. `replies(model)`:
    (replies to the sample prompts, replies to `held_out`) where a model is not asked as a text model is (a
    vision-language model: training/vision.py)."""
    from training import fingerprint
    from training.rundir import last_checkpoint, mark
    from training.report import loss_curve, readable_log, stop_diagnosis
    from training.samples import complete, generate, stop_ids, stop_rate, write_samples

    def text_replies(m: Any) -> tuple[list[Any], list[Any]]:
        if raw:
            return complete(m, tokenizer, config.sample_prompts, max_new_tokens=config.max_new_tokens), []
        return (generate(m, tokenizer, template, config.sample_prompts, max_new_tokens=config.max_new_tokens,
                         tools=sample_tools),
                generate(m, tokenizer, template, held_out, max_new_tokens=config.max_new_tokens))

    replies = replies or text_replies
    before, before_held = replies(model)
    args, device, precision = trainer_args(config, out, sizes[1] > 0)
    tokenizer.chat_template = template.jinja  # the saved tokenizer carries the template trained with
    stops = stop_ids(tokenizer, template)
    model.generation_config.eos_token_id = stops  # generation stops at the end-of-turn token
    trainer = make_trainer(args)
    readable_log(trainer)  # a line per logged step, not a Python dict
    resume = last_checkpoint(out) if config.resume else None
    if config.resume:
        say(console, f"resume: from {plain(resume)}" if resume else "resume: no complete checkpoint yet; "
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
        say(console, text, markup=False)  # the model's replies, as they are
    if is_main_process() and loss_curve(out / "loss.png", history, f"{out.name}: {template.name}, "
                                                                     f"{result.global_step} steps"):
        say(console, f"loss curve: {plain(str(out / 'loss.png'))}")
    rate_before, rate_after = stop_rate(before + before_held), stop_rate(after + after_held)
    if rate_before is not None and rate_after is not None and rate_after < rate_before:
        diagnosis = stop_diagnosis(rate_before=rate_before, rate_after=rate_after, replies=after + after_held,
                                   final_loss=losses[-1] if losses else None, steps=result.global_step,
                                   learning_rate=getattr(args, "learning_rate", None), untrained_end=untrained_end,
                                   has_eval=sizes[1] > 0)
        say(console, f"[bold red]WARNING: {plain(diagnosis)}[/]")
    margins = [h["rewards/margins"] for h in history if "rewards/margins" in h]
    accuracies = [h["rewards/accuracies"] for h in history if "rewards/accuracies" in h]
    summary = RunSummary(str(out), provenance, template.name, *sizes, dropped,
                         result.global_step, round(seconds, 1), tokens, round(tokens / seconds, 1) if seconds else 0.0,
                         losses[0] if losses else None, losses[-1] if losses else None, evals[-1] if evals else None,
                         device, precision, rate_before, rate_after, margins[0] if margins else None,
                         margins[-1] if margins else None, accuracies[0] if accuracies else None,
                         accuracies[-1] if accuracies else None, sources)
    write_report(out / "metrics.json", json.dumps({"summary": asdict(summary), "stop_rates": rates,
                                             "log_history": history}, indent=1))
    if is_main_process():
        mark(out, finished=True)  # verify and generate accept the folder from now on
    if config.trainer.get("push_to_hub") and is_main_process():
        push(trainer, config, out)
    return summary


def push(trainer: Any, config: TrainConfig, out: Path) -> None:
    trainer.args.hub_model_id = config.trainer.get("hub_model_id") or trainer.args.hub_model_id
    try:
        trainer.push_to_hub()
    except Exception as exc:  # the hub client raises many types; all mean "not pushed"
        reason = first_line(exc)
        raise PushFailed(f"push_to_hub: the model is saved in {out} but could not be pushed to the Hugging Face "
                         f"hub ({reason}); push later with `huggingface-cli upload` when online") from None
