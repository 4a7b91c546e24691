"""Rendering and tokenize-with-mask throughput against transformers, measured in one run.

Usage: python bench/render.py [--conversations 20000] [--lang all|en|ko|mixed|escaped|real]
Per language (bench/corpus.py; `escaped` renders the same text as `ko`, since escapes are a
JSONL matter):
1. `get_template("smollm2").render` (text + spans) against transformers
   `apply_chat_template(tokenize=False)` per conversation, with SmolLM2's own template, and against
   the join floor (the same text built with one `str.join` per conversation, render_templates.py);
   medians of samples taken in turn (bench/timing.py), transformers imported as in a training script.
2. `tokenize_rendered` (ids + assistant mask) against the fast tokenizer's own batched call
   `tokenizer(texts, add_special_tokens=False)` on the same rendered texts.
3. For reference: the whole `render_tokens_batch` against transformers' batched
   `apply_chat_template(tokenize=True, return_assistant_tokens_mask=True)` with our template.
2 and 3: medians of 3 samples taken in turn (they were best of 3).
"""

from __future__ import annotations

import argparse
import copy
import sys
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from corpus import add_lang_argument, chosen  # noqa: E402
from corpus import conversations as corpus_conversations  # noqa: E402
from render_templates import floor_text, skeleton  # noqa: E402
from timing import paired_medians  # noqa: E402


def conversations(n: int, lang: str = "en", seed: int = 0) -> list[list[dict]]:
    return list(corpus_conversations(lang, n, seed=seed))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--conversations", type=int, default=20_000)
    add_lang_argument(parser)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    from templating.embedded import load_tokenizer

    tokenizer = load_tokenizer()
    for lang in chosen(args.lang):
        print(f"--- {lang}")
        run(tokenizer, conversations(args.conversations, lang))


def run(tokenizer, data: list[list[dict]]) -> None:  # noqa: ANN001 - a transformers tokenizer
    from templating import get_template
    from templating.registry import render_tokens_batch
    from templating.tokens import tokenize_rendered

    template = get_template("smollm2")
    n = len(data)

    expected = [tokenizer.apply_chat_template(c, tokenize=False) for c in data]
    rendered = [template.render(c) for c in data]
    assert [r.text for r in rendered] == expected, "render differs from the official template"
    skeletons = [skeleton(r.text, c) for r, c in zip(rendered, data)]
    times, fulls = paired_medians({"ours": lambda: [template.render(c) for c in data],
                                   "floor": lambda: [floor_text(c, s) for c, s in zip(data, skeletons)]})
    ours, floor = times["ours"], times["floor"]
    base = paired_medians({"hf": lambda: [tokenizer.apply_chat_template(c, tokenize=False) for c in data]},
                          runs=3)[0]["hf"]
    print(f"render, {n} conversations with spans : {n / ours:>9,.0f}/s   apply_chat_template: {n / base:>8,.0f}/s"
          f"   ratio {base / ours:5.2f}x (target >= 5); join floor {n / floor:,.0f}/s: {floor / ours:.2f}x the floor"
          f" (target >= 0.8), {fulls['ours']} full collections")

    texts = [r.text for r in rendered]
    tokenizer(texts[:100], add_special_tokens=False)  # warm up
    # (a call's result is let go inside its sample: transformers' BatchEncoding keeps the Rust encodings, whose
    # release, 0.2-0.3 s for 20,000 texts, a caller pays later; tokenize_rendered releases them before it returns)
    times = paired_medians({"hf": lambda: tokenizer(texts, add_special_tokens=False),
                            "ours": lambda: tokenize_rendered(rendered, tokenizer)}, runs=3)[0]
    base, ours = times["hf"], times["ours"]
    print(f"tokenize + mask                      : {n / ours:>9,.0f}/s   tokenizer(texts):    {n / base:>8,.0f}/s"
          f"   ratio {base / ours:5.2f}x (target >= 0.95)")

    hf = copy.copy(tokenizer)
    hf.chat_template = template.jinja
    sample = data[: min(n, 5000)]
    times = paired_medians({"hf": lambda: hf.apply_chat_template(sample, tokenize=True, return_dict=True,
                                                                 return_assistant_tokens_mask=True),
                            "ours": lambda: render_tokens_batch(sample, tokenizer, template)}, runs=3)[0]
    base, ours = times["hf"], times["ours"]
    print(f"render + tokenize + mask ({len(sample)})      : {len(sample) / ours:>9,.0f}/s   HF batched with mask:"
          f" {len(sample) / base:>6,.0f}/s   ratio {base / ours:5.2f}x")


if __name__ == "__main__":
    main()
