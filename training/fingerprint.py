"""The template fingerprint a training run leaves in its output folder, and `verify`, which
checks a model folder against it: the template used at inference must be the one trained on.

`template_fingerprint.json` holds the template's SHA-256, its special tokens with their ids, the
end-of-turn token and stop strings, and a probe conversation rendered and tokenized. `verify`
re-renders the probe with the folder's tokenizer and checks `generation_config` stops at the
end-of-turn token.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from templating import ChatTemplate
from templating.parse import PROBE, PROBE_NO_SYSTEM
from templating.spans import first_difference
from training.errors import NoFingerprint
from validation.outputs import write_file

FILE = "template_fingerprint.json"


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    detail: str


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _probe(template: ChatTemplate) -> list[dict[str, Any]]:
    return [dict(m) for m in (PROBE if template.spec.supports_system else PROBE_NO_SYSTEM)]


def fingerprint(tokenizer: Any, template: ChatTemplate, stop_ids: list[int]) -> dict[str, Any]:
    """What `verify` compares against; `tokenizer.chat_template` is the template trained with."""
    probe = _probe(template)
    text = tokenizer.apply_chat_template(probe, tokenize=False)
    eot = template.spec.end_of_turn
    tokens = sorted({*template.spec.special_tokens, *tokenizer.all_special_tokens})
    return {"template": template.name, "sha256": sha256(tokenizer.chat_template),
            "special_tokens": {t: tokenizer.convert_tokens_to_ids(t) for t in tokens},
            "end_of_turn": eot, "end_of_turn_id": tokenizer.convert_tokens_to_ids(eot),
            "stop_strings": list(template.spec.stops), "stop_ids": stop_ids,
            "probe": {"messages": probe, "text": text,
                      "ids": tokenizer(text, add_special_tokens=False)["input_ids"]}}


def write(folder: Path, data: dict[str, Any]) -> None:
    write_file(folder / FILE, json.dumps(data, ensure_ascii=False, indent=1))


def verify(folder: str | Path) -> list[Check]:
    """Check a trained model folder against its fingerprint; every check, passed or not.
    Raises `rundir.UnfinishedRun` for the folder of a run that did not finish."""
    from transformers import AutoTokenizer, GenerationConfig

    from training.rundir import require_finished

    folder = Path(folder)
    require_finished(folder)
    if not (folder / FILE).is_file():
        raise NoFingerprint(f"{folder}: no {FILE}; only folders written by `instructkit train` can be verified")
    saved = json.loads((folder / FILE).read_text(encoding="utf-8"))
    tokenizer = AutoTokenizer.from_pretrained(folder)
    checks = []
    template = getattr(tokenizer, "chat_template", None) or ""
    checks.append(Check("template", sha256(template) == saved["sha256"],
                        f"the tokenizer's chat_template is the one trained with ({saved['template']})"
                        if sha256(template) == saved["sha256"] else
                        "the tokenizer's chat_template changed since training: inference renders differently"))
    probe = saved["probe"]
    try:
        text = tokenizer.apply_chat_template(probe["messages"], tokenize=False)
    except Exception as exc:  # a swapped template may raise anything jinja or transformers raise
        text = f"(refused: {exc})"
    at = first_difference(text, probe["text"])
    checks.append(Check("probe-render", text == probe["text"], "the probe conversation renders as in training"
                        if text == probe["text"] else f"the probe renders differently from character {at}: "
                        f"{text[at:at + 30]!r} instead of {probe['text'][at:at + 30]!r}"))
    ids = tokenizer(probe["text"], add_special_tokens=False)["input_ids"]
    checks.append(Check("probe-tokens", ids == probe["ids"], "the probe's tokens are the trained ones"
                        if ids == probe["ids"] else "the trained text tokenizes differently now"))
    moved = {t: (i, tokenizer.convert_tokens_to_ids(t)) for t, i in saved["special_tokens"].items()
             if tokenizer.convert_tokens_to_ids(t) != i}
    checks.append(Check("special-tokens", not moved, f"{len(saved['special_tokens'])} special tokens keep their ids"
                        if not moved else "ids changed: " + ", ".join(f"{t} {a}→{b}" for t, (a, b) in moved.items())))
    checks.append(_stops(folder, saved, GenerationConfig))
    return checks


def _stops(folder: Path, saved: dict[str, Any], generation_config: Any) -> Check:
    eot, eot_id = saved["end_of_turn"], saved["end_of_turn_id"]
    try:
        config = generation_config.from_pretrained(folder)
    except OSError:
        return Check("stop-ids", False, "no generation_config.json: generation does not know to stop at "
                                        f"{eot!r}")
    stops = config.eos_token_id if isinstance(config.eos_token_id, list) else [config.eos_token_id]
    ok = eot_id in stops
    return Check("stop-ids", ok, f"generation_config stops at {eot!r} (id {eot_id})" if ok else
                 f"generation_config.eos_token_id {stops} lacks the end-of-turn {eot!r} (id {eot_id}): "
                 "generation runs past the end of the reply")
