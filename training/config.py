"""`TrainConfig`: the one place YAML goes through. Unknown keys are errors naming the closest
valid key; the trainer block of the method (`sft:`, `dpo:` or `kto:`) is checked against the
fields of TRL's `SFTConfig`, `DPOConfig` or `KTOConfig`."""

from __future__ import annotations

import dataclasses
import difflib
import functools
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (BaseModel, ConfigDict, Field, InstanceOf, PrivateAttr, ValidationError, field_serializer,
                      field_validator, model_validator)

from training.errors import ConfigError
from validation.readers.files import is_hub_id
from validation.readers.source import Dataset

DEFAULT_MODEL = "HuggingFaceTB/SmolLM2-135M-Instruct"


class _Loader(yaml.SafeLoader):
    """YAML 1.2 floats: `2e-4` is a number (YAML 1.1 would make it a string and TRL reject it)."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?$|^[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)$"
               r"|^\.[0-9_]+(?:[eE][-+][0-9]+)?$|^[-+]?\.(?:inf|Inf|INF)$|^\.(?:nan|NaN|NAN)$"),
    list("-+0123456789."))


def _yaml(text: str) -> Any:
    return yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DatasetConfig(Strict):
    path: str  # a file or folder (relative to the config file's folder), or a hub id
    split: str = "train"
    subset: str | None = None  # a hub dataset's configuration (openai/gsm8k: main)
    format: str | None = None
    column: str | None = None
    columns: dict[str, str] | None = None  # your column -> the format's field, as --map (response: completion)


class MixtureSource(DatasetConfig):
    """One dataset of a mixture (`dataset:` as a list): `weight`, the share of its valid rows taken
    (TRL's dataset_mixture weights; above 1 repeats rows), or `rows`, an exact count; `name`
    labels it in the reports (default: its file's name). training/mixture.py."""

    weight: float | None = Field(default=None, gt=0)
    rows: int | None = Field(default=None, gt=0)
    name: str | None = None

    @model_validator(mode="after")
    def _weight_or_rows(self) -> "MixtureSource":
        if self.weight is not None and self.rows is not None:
            raise ValueError(f"{self.path}: give weight or rows, not both")
        return self


class NearDupConfig(Strict):
    """`near_dup:` as `validate --near-dup` takes it (a number alone is the threshold)."""

    threshold: float = Field(default=0.8, gt=0, lt=1)
    shingle: int = Field(default=10, ge=1)
    num_perm: int = Field(default=128, ge=2)
    scope: Literal["conversation", "assistant", "user"] = "conversation"


class DecontaminateConfig(Strict):
    """`decontaminate:` as `validate --decontaminate` takes it (a path alone is the benchmark)."""

    path: str
    field: str | None = None
    split: str = "test"
    ngram: int = Field(default=13, ge=1)


class EvalConfig(Strict):
    path: str | None = None
    split: str | None = None
    ratio: float | None = Field(default=None, gt=0, lt=1)


class LoraConfig(Strict):
    r: int = Field(default=8, gt=0)
    alpha: int = Field(default=16, gt=0)
    dropout: float = Field(default=0.05, ge=0, lt=1)
    target_modules: list[str] | str = "all-linear"


class TrainConfig(Strict):
    """What `instructkit train` runs; see docs/training.md for every key. In a script, `dataset`
    may also be an open `validation.Dataset` (`open_dataset`): training reads it as it is."""

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)

    model: str = DEFAULT_MODEL
    # sft: conversations (SFTTrainer); dpo: preference pairs (DPOTrainer); kto: labelled replies, or pairs
    # (KTOTrainer). training/preference.py runs the last two.
    method: Literal["sft", "dpo", "kto"] = "sft"
    template: str = "auto"
    # one dataset, or a mixture of several (training/mixture.py)
    dataset: DatasetConfig | list[MixtureSource] | InstanceOf[Dataset]
    eval: EvalConfig | None = None
    max_length: int = Field(default=1024, gt=0)
    # dpo: prompts longer than this keep their last tokens (TRL 1.x has no prompt limit of its own)
    max_prompt_length: int | None = Field(default=None, gt=0)
    packing: bool = False
    # Micro-batches of this many tokens instead of sft.per_device_train_batch_size rows (training/levers/batches.py).
    token_budget: int | None = Field(default=None, gt=0)
    assistant_only_loss: bool = True
    lora: LoraConfig | None = None
    on_invalid: Literal["stop", "drop"] = "stop"
    # Rows over max_length: cut the end (TRL's way), drop the oldest turns first, leave out, or stop.
    over_length: Literal["truncate", "truncate-prompt", "drop", "raise"] = "truncate"
    # format: text trains as a language model (every token, no chat template, EOS appended, as TRL's text field);
    # chat: as one assistant turn under the template (training/text.py)
    text_as: Literal["lm", "chat"] = "lm"
    train_on: Literal["all", "last"] = "all"  # assistant turns trained; a message's `train: true|false` decides its own
    # Rows the supervision audit finds errors in (nothing trained, end-of-turn unsupervised, ...).
    on_audit_error: Literal["stop", "drop", "warn"] = "stop"
    # Structured outputs: replies (the last of each row, or all) must be JSON valid against this JSON Schema file.
    response_schema: str | None = None
    # Corpus checks before training (validate --near-dup / --decontaminate): rows they find are errors; the run
    # trains on the rows that pass (clean.jsonl), or stops (on_invalid: stop). training/pipeline.py.
    near_dup: NearDupConfig | None = None
    decontaminate: DecontaminateConfig | None = None
    response_scope: Literal["last", "all"] = "last"
    sample_prompts: list[str] = Field(default_factory=list)
    # Tools the sample prompts are asked with (a list, or the path of a JSON file holding one).
    sample_tools: list[dict[str, Any]] | str | None = None
    max_new_tokens: int = Field(default=64, gt=0)
    stop_check_rows: int = Field(default=8, ge=0)  # eval rows whose replies "does it stop?" measures
    output_dir: str = "out/train"
    seed: int = 42
    resume: bool = False
    overwrite: bool = False  # write into an output_dir that holds files of no earlier run (training/rundir.py)
    cpu_allocator: bool = True  # keep freed memory in the heap when training on CPU (training/levers/allocator.py)
    # auto: flash_attention_2 on CUDA when installed, varlen_sdpa for padding-free rows, else sdpa (training/levers/device.py)
    attention: Literal["auto", "sdpa", "eager", "varlen_sdpa", "flash_attention_2"] = "auto"
    sft: dict[str, Any] = Field(default_factory=dict)
    dpo: dict[str, Any] = Field(default_factory=dict)  # DPOConfig fields (beta, learning_rate, ...)
    kto: dict[str, Any] = Field(default_factory=dict)  # KTOConfig fields

    # a mixture's run: the source of each row of the mixture file (set by training/mixture.py; not a key)
    _mixture_sources: list[str] | None = PrivateAttr(default=None)
    _mixture_names: list[str] = PrivateAttr(default_factory=list)  # every source's name, in the config's order

    @property
    def mixture_sources(self) -> list[str] | None:
        return self._mixture_sources

    @property
    def mixture_names(self) -> list[str]:
        return self._mixture_names

    @property
    def trainer(self) -> dict[str, Any]:
        """The trainer settings of the method: the `sft:`, `dpo:` or `kto:` block."""
        return {"sft": self.sft, "dpo": self.dpo, "kto": self.kto}[self.method]

    @field_validator("method", mode="before")
    @classmethod
    def _grpo_is_not_run_here(cls, value: Any) -> Any:
        if value == "grpo":
            raise ValueError("grpo is not run by instructkit: it checks GRPO data (prompt-only rows, validate "
                             "--format prompt-only --reward-columns ...) and leaves training to TRL's GRPOTrainer, "
                             "which takes those rows as they are; method is sft, dpo or kto")
        return value

    @field_validator("near_dup", mode="before")
    @classmethod
    def _threshold_alone(cls, value: Any) -> Any:
        return {"threshold": value} if isinstance(value, (int, float)) and not isinstance(value, bool) else value

    @field_validator("decontaminate", mode="before")
    @classmethod
    def _benchmark_alone(cls, value: Any) -> Any:
        return {"path": value} if isinstance(value, str) else value

    @field_serializer("dataset")
    def _dataset_as_keys(self, value: DatasetConfig | list[MixtureSource] | Dataset) -> Any:
        """config.yaml records an open `Dataset` by the keys that would open it again."""
        if isinstance(value, list):
            return [source.model_dump(exclude_none=True) for source in value]
        if isinstance(value, Dataset):
            return {"path": value.name, "split": value.split, "format": value.format.name,
                    "column": value.format.column or None,
                    "columns": dict(value.columns.mapping) if value.columns else None}
        return value.model_dump()

    @property
    def columns(self) -> Any:
        """The training data's column mapping (`dataset.columns`, or an open dataset's), which the
        eval file is read with too: a mapping renames only the fields a row has."""
        return None if isinstance(self.dataset, list) else self.dataset.columns

    def tools_for_samples(self) -> list[dict[str, Any]] | None:
        """`sample_tools` as a list (read from its file when it names one); ConfigError when unusable."""
        return read_tools(self.sample_tools, "sample_tools") if isinstance(self.sample_tools, str) \
            else self.sample_tools

    @model_validator(mode="after")
    def _budget_needs_padding_free_rows(self) -> "TrainConfig":
        if self.token_budget is not None and (self.packing or self.sft.get("padding_free") is False):
            raise ValueError("token_budget counts the tokens of padding-free rows: it cannot be combined with "
                             "packing: true or sft.padding_free: false")
        return self

    @field_validator("sft", "dpo", "kto")
    @classmethod
    def _trainer_keys_exist(cls, value: dict[str, Any], info: Any) -> dict[str, Any]:
        if not value:
            return value
        block = info.field_name
        known = trainer_fields(block)
        checked = dict(value)
        for key, item in value.items():
            if key not in known:
                raise ValueError(f"unknown {TRAINER_CONFIGS[block]} field {key!r}{_hint(key, known)}")
            if key in OWNED:
                raise ValueError(f"set {key!r} at the top level ({OWNED[key]}), not under {block}")
            checked[key] = trainer_value(block, key, item)
        return checked

    @model_validator(mode="after")
    def _prompt_limit_is_dpo_s(self) -> "TrainConfig":
        if self.max_prompt_length is not None and self.method != "dpo":
            raise ValueError(f"max_prompt_length cuts the prompts of method dpo's pairs; method {self.method} does "
                             "not use it")
        return self

    @model_validator(mode="after")
    def _one_trainer_block(self) -> "TrainConfig":
        for block in ("sft", "dpo", "kto"):
            if block != self.method and getattr(self, block):
                raise ValueError(f"{block}: settings for method {block}, but method is {self.method}: put them "
                                 f"under {self.method}:")
        return self


def read_tools(path: str, what: str = "tools") -> list[dict[str, Any]]:
    """Tool definitions from a JSON file holding a list of them; ConfigError (one line) otherwise."""
    from validation.readers.files import read_json

    tools = read_json(path, what, ConfigError)
    if not isinstance(tools, list):
        raise ConfigError(f"{what}: {path}: expected a JSON list of tool definitions")
    return tools


# SFTConfig fields the top level owns, so that one value has one place.
OWNED = {"output_dir": "output_dir", "max_length": "max_length", "packing": "packing", "seed": "seed",
         "assistant_only_loss": "assistant_only_loss"}


TRAINER_CONFIGS = {"sft": "SFTConfig", "dpo": "DPOConfig", "kto": "KTOConfig"}


def trainer_fields(method: str) -> set[str]:
    """The fields of the TRL config class of `method` (sft, dpo or kto)."""
    import trl

    return {f.name for f in dataclasses.fields(getattr(trl, TRAINER_CONFIGS[method])) if f.init}


@functools.lru_cache(maxsize=None)
def _field_types(method: str) -> dict[str, Any]:
    """Pydantic checkers of the TRL config fields of `method`, by name (a type pydantic cannot check
    is left out)."""
    import typing

    import trl
    from pydantic import TypeAdapter

    hints = typing.get_type_hints(getattr(trl, TRAINER_CONFIGS[method]))
    checkers = {}
    for name, hint in hints.items():
        try:
            checkers[name] = (TypeAdapter(hint), hint)
        except Exception:  # noqa: BLE001 - pydantic raises several kinds for a type it cannot build
            continue
    return checkers


def trainer_value(method: str, key: str, value: Any) -> Any:
    """`value` of TRL config field `key`, checked against the field's type before any model loads:
    ValueError naming the field, the type and the value when it does not fit. A number written as
    text ("10", "1e-4") is read as the number; any other value is kept as written."""
    from pydantic import ValidationError

    checker = _field_types(method).get(key)
    if checker is None:
        return value
    adapter, hint = checker
    try:
        read = adapter.validate_python(value)
    except ValidationError as exc:
        wanted = getattr(hint, "__name__", None) or str(hint).replace("typing.", "")
        raise ValueError(f"{key}: {value!r} does not fit its type, {wanted} ({exc.errors()[0]['msg']})") from None
    return read if isinstance(value, str) and type(read) in (int, float, bool) else value


def sft_fields() -> set[str]:
    return trainer_fields("sft")


def _hint(key: str, known: set[str] | list[str]) -> str:
    close = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.5)
    return f"; did you mean {close[0]!r}?" if close else ""


def _fields_at(model: type[BaseModel], location: tuple[Any, ...]) -> list[str]:
    for part in location[:-1]:
        annotation = model.model_fields[str(part)].annotation if str(part) in model.model_fields else None
        inner = [a for a in getattr(annotation, "__args__", (annotation,)) if isinstance(a, type)
                 and issubclass(a, BaseModel)]
        if not inner:
            return []
        model = inner[0]
    return list(model.model_fields)


def _message(exc: ValidationError, source: str) -> str:
    lines = []
    for error in exc.errors(include_url=False):
        if error["type"] == "is_instance_of":  # the `Dataset` a script may give instead of the keys
            continue
        error["loc"] = tuple(p for p in error["loc"] if p != "DatasetConfig")  # the union's member
        where = ".".join(str(p) for p in error["loc"])
        if error["type"] == "extra_forbidden":
            lines.append(f"{source}: unknown key {where!r}{_hint(str(error['loc'][-1]), _fields_at(TrainConfig, error['loc']))}")
        else:
            message = error["msg"].removeprefix("Value error, ")
            lines.append(f"{source}: {where}: {message}" if where else f"{source}: {message}")
    return "; ".join(lines)


def set_key(data: dict[str, Any], assignment: str) -> None:
    """Apply `key.sub=value` (value parsed as YAML) to the raw config mapping."""
    if "=" not in assignment:
        raise ConfigError(f"--set {assignment!r}: expected key=value")
    key, raw = assignment.split("=", 1)
    target = data
    parts = key.strip().split(".")
    for part in parts[:-1]:
        target = target.setdefault(part, {})
        if not isinstance(target, dict):
            raise ConfigError(f"--set {assignment!r}: {part!r} is not a mapping")
    target[parts[-1]] = _yaml(raw)


# The keys that name files, read from the config file's folder (`cd examples && instructkit train x.yaml`
# and `instructkit train examples/x.yaml` read the same files); output_dir stays where the command runs.
PATH_KEYS = (("dataset", "path"), ("eval", "path"), ("response_schema",), ("sample_tools",), ("template",),
             ("decontaminate",), ("decontaminate", "path"))


def _paths_from(data: dict[str, Any], base: Path) -> None:
    """Each relative path of PATH_KEYS in `data` made relative to `base` (the config's folder). A
    path found only from the current directory is kept as it is (configs written before this
    rule), as is a hub id (`org/name`) not found on disk; anything else becomes the path under
    `base`, so that an error names the file that was looked for."""
    mixture = data.get("dataset") if isinstance(data.get("dataset"), list) else []
    for key, holder in [(key, None) for key in PATH_KEYS] + [(("path",), item) for item in mixture]:
        if holder is None:
            holder = data
            for part in key[:-1]:
                holder = holder.get(part) if isinstance(holder, dict) else None
        value = holder.get(key[-1]) if isinstance(holder, dict) else None
        if not isinstance(value, str) or not value or Path(value).is_absolute():
            continue
        here = base / value
        named = key == ("template",)  # a registry name (qwen2.5, auto) unless a file of that name is there
        if here.exists() or not (Path(value).exists() or is_hub_id(value) or named):
            holder[key[-1]] = str(here)


def load_config(path: str | Path | None = None, *, overrides: list[str] = (), **values: Any) -> TrainConfig:
    """Read YAML (or take `values`), apply `--set` overrides, validate. Raises `ConfigError`.

    Example:
        >>> load_config(dataset={"path": "d.jsonl"}, overrides=["sft.learning_rate=1e-4"]).sft
        {'learning_rate': 0.0001}
    """
    source = str(path) if path is not None else "config"
    data: dict[str, Any] = {}
    if path is not None:
        try:
            loaded = _yaml(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"{path}: no such file") from None
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
        if loaded is not None and not isinstance(loaded, dict):
            raise ConfigError(f"{path}: expected a mapping of keys, got {type(loaded).__name__}")
        data = loaded or {}
        _paths_from(data, Path(path).resolve().parent)
    data.update(values)
    for assignment in overrides:
        set_key(data, assignment)
    try:
        return TrainConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_message(exc, source)) from None
