"""Preference data: validate against the json.loads floor, and DPO preparation against TRL's own.

Usage: python bench/preference.py [--rows 100000] [--pairs 2000] [--lang all|en|ko|mixed|escaped|real]
                                  [--form all|preference|preference-implicit|hh-text]
Per language (bench/corpus.py): pairs made from the corpus conversations (the prompt: every turn
before the last reply; chosen: that reply; rejected: the last reply of the next conversation).
- `instructkit validate --json` on a JSONL of `--rows` pairs (a subprocess, every check on) next
  to the floor (stdlib `json.loads` per line, measured in the same run), in each paired format
  (`--form`); target >= 0.8x.
- DPO preparation of `--pairs` pairs with the SmolLM2 tokenizer and the smollm2 template:
  `training.preference.prepare` next to TRL's own `DPOTrainer._prepare_dataset` of the same pairs
  (conversational rows, the same template installed; a tiny random model carries the trainer);
  target >= 2x. The two must agree id for id (checked here on every pair).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1]))
from corpus import GSM8K, add_lang_argument, chosen, conversations, dumps  # noqa: E402
from validate import timed  # noqa: E402  (bench/validate.py: the same floor and CLI run)


def pairs(lang: str, n: int) -> list[dict]:
    source = list(conversations(lang, n + 1, seed=1))
    out = []
    for k in range(n):
        messages, other = source[k], source[k + 1]
        out.append({"prompt": messages[:-1], "chosen": messages[-1:], "rejected": other[-1:]})
    return out


FORMS = ("preference", "preference-implicit", "hh-text")


def in_form(pair: dict, form: str) -> dict:
    """A pair as format `form` holds it: explicit, two whole conversations (with the score fields
    UltraFeedback-style data carries), or HH-RLHF transcripts (which hold no system prompt)."""
    if form == "preference":
        return pair
    chosen, rejected = pair["prompt"] + pair["chosen"], pair["prompt"] + pair["rejected"]
    if form == "preference-implicit":
        return {"chosen": chosen, "rejected": rejected, "score_chosen": 8.0, "score_rejected": 4.5}
    marks = {"user": "\n\nHuman: ", "assistant": "\n\nAssistant: "}
    return {k: "".join(marks[m["role"]] + m["content"] for m in messages if m["role"] != "system")
            for k, messages in (("chosen", chosen), ("rejected", rejected))}


def bench_validate(lang: str, rows: int, form: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "pairs.jsonl"
        path.write_text("".join(dumps(in_form(r, form), lang) + "\n" for r in pairs(lang, rows)), encoding="utf-8")
        mb = path.stat().st_size / 1e6
        base, ours, report = timed(path, runs=2)
        print(f"file: {rows} pairs ({report['format']}), {mb:.1f} MB; valid {report['valid']}, "
              f"issues {sum(report['counts'].values()) if report['counts'] else len(report['issues'])}")
        print(f"floor json.loads/line : {rows / base:>10,.0f} rows/s")
        print(f"instructkit validate  : {rows / ours:>10,.0f} rows/s (whole CLI, start-up included)")
        print(f"validate ratio vs floor [{lang}, {form}]: {base / ours:.2f}x (target >= 0.8)")


def bench_prepare(lang: str, n: int) -> None:
    import copy

    import datasets
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM
    from trl import DPOConfig, DPOTrainer

    from templating import get_template
    from templating.embedded import load_tokenizer
    from training.preference import prepare
    from validation.checks.pairs import read_pair

    tokenizer, template = load_tokenizer(), get_template("smollm2")
    rows = pairs(lang, n)
    values = [read_pair("preference", r, k + 1)[0] for k, r in enumerate(rows)]
    start = time.perf_counter()
    ours = prepare(values, tokenizer, template, None)
    mine = time.perf_counter() - start
    with_template = copy.copy(tokenizer)
    with_template.chat_template = template.jinja
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:  # saved: TRL loads its reference model by the model's path
        LlamaForCausalLM(LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64,
                                     num_hidden_layers=1, num_attention_heads=2,
                                     num_key_value_heads=1)).save_pretrained(tmp)
        model = LlamaForCausalLM.from_pretrained(tmp)
        args = DPOConfig(tmp, report_to=[], use_cpu=True, max_length=None)
        trainer = DPOTrainer(model=model, args=args, train_dataset=datasets.Dataset.from_list(rows[:2]),
                             processing_class=with_template)
        raw = datasets.Dataset.from_list(rows)
        start = time.perf_counter()
        theirs = trainer._prepare_dataset(raw, with_template, args, "train")
        trl_time = time.perf_counter() - start
    same = all(ours[c] == theirs[c] for c in ("prompt_ids", "chosen_ids", "rejected_ids"))
    print(f"DPO preparation of {n} pairs: instructkit {n / mine:,.0f} pairs/s, TRL {n / trl_time:,.0f} pairs/s; "
          f"identical ids: {same}")
    print(f"prepare ratio vs TRL [{lang}]: {trl_time / mine:.2f}x (target >= 2)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--pairs", type=int, default=2000)
    parser.add_argument("--skip-validate", action="store_true")
    parser.add_argument("--skip-prepare", action="store_true")
    parser.add_argument("--form", choices=(*FORMS, "all"), default="all", help="the pair format validate reads")
    add_lang_argument(parser)
    args = parser.parse_args()
    for lang in chosen(args.lang):
        if lang == "real" and not GSM8K.exists():
            print("--- real: skipped (../shared/data is absent)")
            continue
        print(f"--- {lang}")
        if not args.skip_validate:
            for form in FORMS if args.form == "all" else (args.form,):
                bench_validate(lang, args.rows, form)
        if not args.skip_prepare:
            bench_prepare(lang, args.pairs)


if __name__ == "__main__":
    main()
