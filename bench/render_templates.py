"""Rendering speed of every built-in template, against transformers and the join floor.

Usage: python bench/render_templates.py [--conversations 2000] [--lang all|en|ko|mixed|escaped|real]
       [--templates NAME,...]

For each template and language, on the same conversations (bench/corpus.py: 1-4 exchanges of
10-150 words, a system prompt on 30 % where the template takes one), in a process that has
imported transformers as any training script has (garbage collection over its heap counts):
- `render`: `get_template(T).render(messages)` (text and spans; the fast renderer where the
  template has a turn layout, else its Jinja training variant, compiled once);
- `hf`: transformers' `render_jinja_template` of the official text, one conversation a call;
- `floor`: the same output string built from its pieces with one `str.join` per conversation:
  the constant text between contents (from our render) and each content read from its message
  dict (no renderer can return the text faster).
Medians of 7 samples, render and floor sampled in turn (bench/timing.py), transformers' of 3; ratios
`hf / render` (how many times faster than transformers) and `floor / render` (the share of the
floor's speed reached); `full GCs`: the collector's full passes that fell inside render's samples.
`--long`: replies of 10-300 words instead of 10-150 (~3.5k characters a conversation).
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from corpus import add_lang_argument, chosen  # noqa: E402
from corpus import conversations as corpus_conversations  # noqa: E402
from timing import paired_medians  # noqa: E402


def skeleton(text: str, messages: list[dict]) -> list[str]:
    """The text between the messages' contents (headers, footers, a default system prompt), so that
    text == sep[0] + content[0] + sep[1] + ... + sep[-1]; contents the template rewrites (trimmed,
    moved) are left inside the separators."""
    seps, at = [], 0
    for m in messages:
        found = text.find(m["content"], at)
        if found < 0 or not m["content"]:
            seps.append(None)
            continue
        seps.append(text[at:found])
        at = found + len(m["content"])
    seps.append(text[at:])
    return seps


def floor_text(messages: list[dict], seps: list) -> str:
    """The floor: the output string built from its pieces, the contents read from the message
    dicts, one `str.join` per conversation."""
    parts = []
    for sep, m in zip(seps, messages):
        if sep is not None:
            parts += (sep, m["content"])
    parts.append(seps[-1])
    return "".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--conversations", type=int, default=2000)
    parser.add_argument("--templates", default="", help="comma-separated names (default: every built-in)")
    parser.add_argument("--long", action="store_true", help="replies of 10-300 words")
    parser.add_argument("--no-hf", action="store_true", help="leave out transformers' render (slow for 50 templates)")
    add_lang_argument(parser)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    import transformers  # noqa: F401 - imported as in a training script: its heap is what GC walks
    from transformers.utils.chat_template_utils import render_jinja_template

    from templating import get_template, list_templates

    names = args.templates.split(",") if args.templates else [s.name for s in list_templates()]
    print(f"{'template':<24}{'lang':<9}{'path':<6}{'render/s':>10}{'x hf':>8}{'x floor':>9}{'full GCs':>10}")
    replies = (10, 300) if args.long else (10, 150)
    for lang in chosen(args.lang):
        base = list(corpus_conversations(lang, args.conversations, seed=0, reply_words=replies))
        for name in names:
            template = get_template(name)
            spec = template.spec
            data = base if spec.supports_system else [[m for m in c if m["role"] != "system"] for c in base]
            if spec.alternating:
                data = [c if c[0]["role"] != "system" or spec.supports_system else c[1:] for c in data]
            try:
                rendered = [template.render(c) for c in data]
            except Exception as exc:  # noqa: BLE001 - a template that refuses the corpus is reported, not timed
                print(f"{name:<24}{lang:<9}refuses the corpus: {str(exc)[:60]}")
                continue
            skeletons = [skeleton(r.text, c) for r, c in zip(rendered, data)]
            times, fulls = paired_medians({"ours": lambda: [template.render(c) for c in data],
                                           "floor": lambda: [floor_text(c, seps) for c, seps in zip(data, skeletons)]})
            ours, floor = times["ours"], times["floor"]
            variables = {"bos_token": spec.bos_token, "eos_token": spec.eos_token,
                         **{k: v for k, v in spec.variables.items() if isinstance(v, str)}}
            hf = float("nan") if args.no_hf else paired_medians({"hf": lambda: [render_jinja_template(
                conversations=[c], chat_template=template.official_jinja, **variables) for c in data]}, runs=3)[0]["hf"]
            path = "fast" if template._fast else "jinja"
            print(f"{name:<24}{lang:<9}{path:<6}{len(data) / ours:>10,.0f}{hf / ours:>8.1f}{floor / ours:>9.2f}"
                  f"{fulls['ours']:>10}", flush=True)


if __name__ == "__main__":
    main()
