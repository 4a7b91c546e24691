"""Preference training (`method: dpo` or `kto`): validate (gate) ► audit the pairs (gate) ►
stats ► prepare ► TRL's DPOTrainer / KTOTrainer ► save, over the shared steps of
training/steps.py (a sibling of training/sft.py; neither imports the other).

DPO's preparation is ours, with the registry template (`templating.supervision.pairs.pair_tokens`): the
very tokens the audit measured (each training pair is tokenized once, by the audit), each prompt
rendered with its generation prompt and each prompt + reply rendered whole, tokenized in one
batch, the reply starting where the two token sequences part
(TRL's rule, so that a merge across the boundary is handled as TRL handles it); the result is
checked against TRL's own tokenization of sampled rows and handed to the trainer as it is. KTO's
rows go to KTOTrainer as conversational rows. The reference model is TRL's (a frozen copy, or the
adapter disabled with LoRA).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from training.config import ConfigError, TrainConfig
from training.steps import (SUPERVISION_CODES, choose_template, gate, lora_config, plain, say, split_eval, train,
                            training_data, write_report)
from training.errors import MaskMismatch
from training.mixture import audit_by_source, trained_per_source
from validation.models import Preference, Unpaired, as_dicts
from validation.report import Console

if TYPE_CHECKING:
    from templating.registry import ChatTemplate


def read_pairs(data: Any, rules: Any = None, skip: frozenset[int] = frozenset()) -> list[Preference | Unpaired]:
    """The valid rows of an open preference `Dataset` as pairs (or unpaired replies), less the
    rows in `skip`."""
    from validation.checks.pairs import check_pair

    name = data.format.name
    out = []
    for record in data.records():
        if isinstance(record.data, dict) and record.row not in skip:
            _, _, value = check_pair(name, record.data, record.row, rules)
            if value is not None:
                out.append(value)
    return out


def audit_gate(config: TrainConfig, data: Any, tokenizer: Any, template: ChatTemplate, out: Path,
               console: Console | None) -> tuple[list[tuple[Preference | Unpaired, Any]], int, dict[int, int]]:
    """The pair audit (templating/supervision/pairs.py) of the training rows, written to audit.json, and
    the statistics of the pairs to stats.json: (the rows to train, each with its tokens as audited,
    how many rows were left out, the source row of each value by its id). Rows with audit errors (a
    prompt that fills max_length, replies truncation leaves identical, a doubled BOS) stop the run
    under `on_audit_error: stop`, are left out under `drop`, train anyway under `warn`."""
    import json

    from templating.supervision.dataset import audit_rows
    from training.errors import InvalidDataset
    from validation.statistics.pairs import pair_stats

    report, audits = audit_rows(data, tokenizer=tokenizer, template=template.rules,
                                max_length=config.max_length, max_prompt_length=config.max_prompt_length)
    write_report(out / "audit.json", json.dumps(report.to_json(), ensure_ascii=False, indent=1))
    audit_by_source(config, report, out, console)
    s = report.summary
    say(console, f"audit: {s.supervised_tokens:,} of {s.tokens:,} tokens are replies; "
                    + (", ".join(f"{c} in {n} rows" for c, n in s.rows_with.items()) or "no findings"))
    errors = frozenset(i.row for i in report.issues if i.severity == "error" and i.code in SUPERVISION_CODES)
    if errors and config.on_audit_error == "stop":
        raise InvalidDataset(report, stage="audit")
    summary = pair_stats(data, tokenizer=tokenizer).summary
    write_report(out / "stats.json", json.dumps(summary.to_json(), ensure_ascii=False, indent=1))
    if summary.length_bias:
        b = summary.length_bias
        say(console, f"stats: {summary.pairs} pairs; chosen longer in {b['chosen_longer']:.0%} of them, rejected in "
                        f"{b['rejected_longer']:.0%}")
    skip = errors if config.on_audit_error == "drop" else frozenset()
    kept = [(row, audit.pair) for row, audit in audits if row not in skip]
    return [pair for _, pair in kept], len(skip), {id(pair[0]): row for row, pair in kept}


def as_method(rows: list[Preference | Unpaired], method: str, where: str,
              origin: dict[int, int] | None = None) -> list[Preference | Unpaired]:
    """Rows in the shape the method trains: pairs for dpo; labelled replies for kto (a pair gives
    two, as TRL's `unpair_preference_dataset`). `origin` (a value's id -> its source row) learns
    the rows of the replies a pair gives."""
    if method == "dpo":
        if any(isinstance(r, Unpaired) for r in rows):
            raise ConfigError(f"{where}: method dpo compares a chosen and a rejected reply; these rows are unpaired "
                              "(prompt, completion, label): train them with method: kto")
        return rows
    out: list[Preference | Unpaired] = []
    for r in rows:
        if isinstance(r, Preference):
            replies = [Unpaired(prompt=r.prompt, completion=r.chosen, label=True, metadata=r.metadata),
                       Unpaired(prompt=r.prompt, completion=r.rejected, label=False, metadata=r.metadata)]
            if origin is not None and id(r) in origin:
                origin.update((id(reply), origin[id(r)]) for reply in replies)
            out += replies
        else:
            out.append(r)
    labels = {r.label for r in out if isinstance(r, Unpaired)}
    if len(labels) < 2:
        kind = "desirable" if labels == {True} else "undesirable"
        raise ConfigError(f"{where}: every row is {kind} (label {str(labels.pop()).lower() if labels else '-'}): KTO "
                          "learns from both kinds; add rows of the other label")
    return out


def prepare(rows: Sequence[Preference | Unpaired], tokenizer: Any, template: ChatTemplate, max_length: int | None,
            max_prompt_length: int | None = None, audited: Mapping[int, Any] | None = None) -> Any:
    """A `datasets.Dataset` of token ids as TRL's trainers take them once prepared: `prompt_ids`,
    `chosen_ids`, `rejected_ids` (dpo) or `prompt_ids`, `completion_ids`, `label` (kto), from
    `templating.supervision.pairs.pair_tokens` (what `audit` measures): those the audit already made
    (`audited`: by `id` of the row object), the others here. Rows whose prompt alone fills
    `max_length` are left out, as TRL leaves them out; prompts over `max_prompt_length` keep their
    last tokens."""
    import datasets

    from templating.supervision.pairs import pair_tokens

    known = audited or {}
    missing = [r for r in rows if id(r) not in known]
    made = dict(zip(map(id, missing), pair_tokens(missing, tokenizer, template))) if missing else {}
    columns: dict[str, list[Any]] = {}
    for r in rows:
        t = known[id(r)] if id(r) in known else made[id(r)]
        if max_prompt_length is not None:
            t = t.cut_prompt(max_prompt_length)
        if max_length is not None and t.start >= max_length:
            continue
        names = ["chosen_ids", "rejected_ids"] if isinstance(r, Preference) else ["completion_ids"]
        columns.setdefault("prompt_ids", []).append(t.prompt_ids)
        for k, name in enumerate(names):
            columns.setdefault(name, []).append(t.reply_ids(k))
        if isinstance(r, Unpaired):
            columns.setdefault("label", []).append(r.label)
    return datasets.Dataset.from_dict(columns)


def check_pairs_against_trl(rows: Sequence[Preference | Unpaired], tokenizer: Any, template: ChatTemplate,
                            prepared: Any, sample: int = 8, max_length: int | None = None,
                            max_prompt_length: int | None = None) -> int:
    """Our prepared ids against TRL's own tokenization of the same rows (its `_tokenize` with the
    template installed, its boundary rule); returns rows checked. Rows whose prompt fills
    `max_length` are not in `prepared` (TRL leaves them out too). Raises `MaskMismatch`."""
    import copy

    from trl.data_utils import _tokenize, common_prefix_length

    with_template = copy.copy(tokenizer)
    with_template.chat_template = template.jinja
    checked = at = 0
    for r in rows:
        if checked == sample or at == len(prepared):
            break
        prompt = _tokenize(with_template, as_dicts(r.prompt), add_generation_prompt=True)["input_ids"]
        replies = {"chosen_ids": r.chosen, "rejected_ids": r.rejected} if isinstance(r, Preference) else \
            {"completion_ids": r.completion}
        full = {name: _tokenize(with_template, as_dicts(r.prompt + reply))["input_ids"]
                for name, reply in replies.items()}
        start = min(common_prefix_length(prompt, ids) for ids in full.values())
        if max_prompt_length is not None and start > max_prompt_length:  # its last tokens are kept
            drop = start - max_prompt_length
            prompt, full, start = prompt[drop:], {name: ids[drop:] for name, ids in full.items()}, max_prompt_length
        if max_length is not None and start >= max_length:
            continue
        theirs = {"prompt_ids": prompt[:start], **{name: ids[start:] for name, ids in full.items()}}
        ours, at = prepared[at], at + 1
        if any(ours[name] != ids for name, ids in theirs.items()):
            raise MaskMismatch(f"row {checked + 1}: our prepared tokens differ from TRL's tokenization with template "
                               f"{template.name}")
        checked += 1
    return checked


def _prepared_trainer(base: type) -> type:
    class Prepared(base):  # type: ignore[misc, valid-type]
        """TRL's trainer, handed rows prepared here: its own preparation is skipped for them."""

        def _prepare_dataset(self, dataset: Any, processing_class: Any, args: Any, dataset_name: str) -> Any:
            if "prompt_ids" in getattr(dataset, "column_names", ()):
                return dataset
            return super()._prepare_dataset(dataset, processing_class, args, dataset_name)

    Prepared.__name__ = Prepared.__qualname__ = f"Prepared{base.__name__}"
    return Prepared


def preference_trainer(config: TrainConfig, model: Any, args: Any, train_set: Any, eval_set: Any, tokenizer: Any,
                       peft_config: Any) -> Any:
    """TRL's DPOTrainer on prepared pairs, or its KTOTrainer on labelled replies (which it prepares
    itself: its KL completions and label balance come with its preparation); the reference
    model is TRL's choice."""
    import trl

    trainer = _prepared_trainer(trl.DPOTrainer) if config.method == "dpo" else trl.KTOTrainer
    return trainer(model=model, args=args, train_dataset=train_set, eval_dataset=eval_set, processing_class=tokenizer,
                   peft_config=peft_config)


def conversational(rows: Sequence[Unpaired]) -> Any:
    """Labelled replies as TRL's conversational unpaired rows (KTOTrainer renders them with the
    tokenizer's template, the registry's training variant installed by the pipeline)."""
    import datasets

    return datasets.Dataset.from_list([{"prompt": as_dicts(r.prompt), "completion": as_dicts(r.completion),
                                        "label": r.label} for r in rows])


def _read_eval(config: TrainConfig, rules: Any, path: str, split: str) -> list[Preference | Unpaired]:
    from validation.readers.source import dataset_of

    with dataset_of(path, split=split, columns=config.columns) as data:  # the training data's column mapping
        return as_method(read_pairs(data, rules), config.method, path)


def run_preference(config: TrainConfig, out: Path, dry_run: bool, console: Console | None) -> Any:
    """The run of `method: dpo` and `kto` in `out` (claimed by `pipeline.run`)."""
    import yaml

    from training.levers.device import attention, detect_device
    from training.models import load_model
    from training.samples import prompts_of

    write_report(out / "config.yaml", yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False))
    sample_tools = config.tools_for_samples()
    with training_data(config) as data:
        if not data.format.preference:
            raise ConfigError(f"method {config.method} trains preference data; {data.name} is {data.format.name} "
                              "(conversations): use method: sft, or give prompt/chosen/rejected rows "
                              "(docs/validation.md#preference-data-dpo-kto)")
        report = gate(config, out, console, data)
        model, tokenizer, provenance = load_model(config.model, attention(detect_device(), padding_free=False,
                                                                          choice=config.attention))
        say(console, f"model: {plain(provenance)}")
        template = choose_template(config, model, tokenizer, console)
        audited, dropped, origin = audit_gate(config, data, tokenizer, template, out, console)
    tokens = {id(value): t for value, t in audited}  # the audit's tokens: each pair is tokenized once
    rows = as_method([value for value, _ in audited], config.method, data.name, origin)
    train_rows, eval_rows = split_eval(rows, config, partial(_read_eval, config, template.rules))
    if config.method == "dpo":
        limits = {"max_length": config.max_length, "max_prompt_length": config.max_prompt_length}
        train_set = prepare(train_rows, tokenizer, template, **limits, audited=tokens)
        eval_set = prepare(eval_rows, tokenizer, template, **limits, audited=tokens) if eval_rows else None
        checked = check_pairs_against_trl(train_rows, tokenizer, template, train_set, **limits)
        left_out = len(train_rows) - len(train_set)
        say(console, f"prepare: {len(train_set)} train / {len(eval_set or [])} eval pairs"
                        + (f" ({left_out} left out: the prompt alone fills max_length {config.max_length})"
                           if left_out else "") + f"; tokens agree with TRL's on {checked} sampled rows")
    else:
        train_set = conversational(train_rows)  # type: ignore[arg-type]
        eval_set = conversational(eval_rows) if eval_rows else None  # type: ignore[arg-type]
        labels = sum(r.label for r in train_rows)  # type: ignore[union-attr]
        say(console, f"prepare: {len(train_set)} train / {len(eval_set or [])} eval labelled replies "
                        f"({labels} desirable, {len(train_set) - labels} undesirable)")
    if dry_run:
        return None
    replies = [r.prompt + (r.chosen if isinstance(r, Preference) else r.completion)
               for r in eval_rows[:config.stop_check_rows]]
    held_out = prompts_of(replies)
    return train(config, out, model, tokenizer, template,
                 lambda args: preference_trainer(config, model, args, train_set, eval_set, tokenizer,
                                                 lora_config(config)),
                 (len(train_set), len(eval_set or [])), held_out, report.invalid + dropped, provenance, console,
                 sample_tools, sources=trained_per_source(config.mixture_sources, [origin[id(r)] for r in train_rows],
                                                          config.mixture_names) if config.mixture_sources else None)
