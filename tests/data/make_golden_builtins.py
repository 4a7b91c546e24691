"""Record tests/data/golden_builtins.json: every built-in template's render of a few fixed
conversations (English, Korean, mixed scripts; with and without a system prompt and a generation
prompt), rendered by transformers' own `render_jinja_template` from the template's official
text, and the characters its training variant marks (`{% generation %}`), as runs (for a built-in
without marks, those of the marked built-in of its format, `MARKS_OF`); where the training
variant renders other text (`TemplateSpec.training_differs`), that text too.

Run it only when a built-in is added or deliberately changed:
    .venv/bin/python tests/data/make_golden_builtins.py
"""

from __future__ import annotations

import json
from pathlib import Path

import sys

import transformers

from templating import get_template
from templating.builtins import BUILTINS, MARKS_OF

sys.path.insert(0, str(Path(__file__).parents[2]))  # run as a script: the repository's `tests` package
from tests.oracle import render_official  # noqa: E402
from tests.strategies import as_template_reads  # noqa: E402

OUT = Path(__file__).with_name("golden_builtins.json")
CONVERSATIONS = [
    [{"role": "system", "content": "You are a helpful assistant"}, {"role": "user", "content": "Hello"},
     {"role": "assistant", "content": "Hi there"}, {"role": "user", "content": "Who are you"},
     {"role": "assistant", "content": "   I am an assistant   "}, {"role": "user", "content": "Another question"}],
    [{"role": "user", "content": "안녕하세요! 오늘 날씨 어때요?"},
     {"role": "assistant", "content": "서울은 맑고 기온은 18도입니다.\n우산은 필요 없어요."}],
    [{"role": "system", "content": "Réponds en une ligne."}, {"role": "user", "content": "مرحبا 👋 你好 — naïve?"},
     {"role": "assistant", "content": "  Ça va 😊 世界 ١٢٣  "}, {"role": "user", "content": "Ende\t\n"},
     {"role": "assistant", "content": "Tschüß!"}],
]


def runs(indices: list[tuple[int, int]], length: int) -> list[list[int]]:
    """The marked characters as maximal runs [start, end)."""
    mask = [False] * length
    for start, end in indices:
        mask[start:end] = [True] * (end - start)
    out: list[list[int]] = []
    for i, marked in enumerate(mask):
        if marked and (not out or out[-1][1] != i):
            out.append([i, i + 1])
        elif marked:
            out[-1][1] = i + 1
    return out


def main() -> None:
    cases = []
    for spec in BUILTINS:
        template = get_template(spec.name)
        for number, conversation in enumerate(CONVERSATIONS):
            messages = conversation if spec.supports_system else [m for m in conversation if m["role"] != "system"]
            messages = as_template_reads(template, messages)  # (as parts where it reads only those)
            for prompt in (False, True):
                text, _ = render_official(spec, messages, template.official_jinja, add_generation_prompt=prompt)
                marked = template if template.marked else get_template(MARKS_OF[spec.name])  # same text, its marks
                training, indices = render_official(spec, messages, marked.jinja, add_generation_prompt=prompt,
                                                    return_assistant_tokens_mask=True)
                case = {"template": spec.name, "conversation": number, "add_generation_prompt": prompt,
                        "text": text, "trained": runs(indices, len(training))}
                if training != text:  # only where the spec says how (qwen3's think blocks)
                    assert spec.training_differs, spec.name
                    case["training_text"] = training
                cases.append(case)
    OUT.write_text(json.dumps({"source": f"transformers {transformers.__version__} render_jinja_template of each "
                                         "built-in's official text (and its training variant's generation marks)",
                               "conversations": CONVERSATIONS, "cases": cases}, ensure_ascii=False, indent=1) + "\n",
                   encoding="utf-8")
    print(f"wrote {len(cases)} cases to {OUT}")


if __name__ == "__main__":
    main()
