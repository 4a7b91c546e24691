"""Benchmark data in several languages: every `bench/` script measures each one (`--lang`).

- `en`: English words (ASCII).
- `ko`: Korean words (Hangul, UTF-8), with Latin capitals and digits as Korean chat has them.
- `mixed`: Latin with diacritics (capitals too), Greek, Cyrillic, CJK, Hangul, Arabic and emoji.
- `escaped`: the Korean rows written with `json.dumps` defaults (every non-ASCII character a
  `\\uXXXX` escape, emoji as surrogate pairs).
- `real`: the gsm8k test rows in `../shared/data` as user/assistant messages, each made unique by
  its copy number (real text, no generator; skipped with a message when `../shared` is absent).

Words were written for this project; none of it comes from a dataset.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path

LANGS = ("en", "ko", "mixed", "escaped", "real")
GSM8K = Path(__file__).resolve().parents[2] / "shared" / "data" / "gsm8k" / "test.jsonl"

EN = ("the model reads every row of the data set and learns to answer with care while the user "
      "asks about trains weather recipes code maths history music and small talk").split()
KO = ("모델은 데이터 세트의 모든 행을 읽고 사용자가 기차 날씨 요리법 코드 수학 역사 음악 그리고 "
      "가벼운 대화에 대해 물으면 신중하게 답하는 법을 배웁니다 안녕하세요 감사합니다 오늘 내일 "
      "서울 부산 학교 선생님 학생 질문 답변 예시 문장 번역 요약 설명 문제 풀이 정답 계산 "
      "GPU CPU 2026년 3개 10분 AI 모델 학습률 배치").split()
MIXED = ("café naïve Straße ÜBER Ärger École Élève déjà vu jalapeño São Paulo Łódź Dvořák "
         "Ωmega ΣΟΦΙΑ λόγος Москва ПРИВЕТ мир 中文 模型 数据集 日本語の テキスト です "
         "한국어 데이터 مرحبا بالعالم كتاب 😀 🚀 👍🏽 🇰🇷 ✨ Việt Nam tiếng Việt İstanbul ﬁne ＡＢＣ").split()
SYSTEMS = {"en": ("You are a helpful assistant.", "Be brief.", "You are a pirate.", "Answer in French."),
           "ko": ("당신은 도움이 되는 조수입니다.", "짧게 답하세요.", "해적처럼 말하세요.", "프랑스어로 답하세요."),
           "mixed": ("Tu es un assistant utile.", "简短回答。", "أجب باختصار.", "Antworte auf Deutsch 🇩🇪.")}


def words(lang: str) -> tuple[str, ...]:
    return {"en": tuple(EN), "ko": tuple(KO), "escaped": tuple(KO), "mixed": tuple(MIXED)}[lang]


def conversations(lang: str, n: int, *, seed: int = 0, exchanges: tuple[int, int] = (1, 4),
                  user_words: tuple[int, int] = (5, 60), reply_words: tuple[int, int] = (10, 150),
                  system_share: float = 0.3) -> Iterator[list[dict]]:
    """`n` conversations (lists of messages) in `lang`: a system prompt on `system_share` of them,
    then `exchanges` user/assistant pairs of `user_words` / `reply_words` words."""
    if lang == "real":
        yield from real_conversations(n)
        return
    rng = random.Random(seed)
    vocab = words(lang)
    systems = SYSTEMS["ko" if lang == "escaped" else lang]
    for _ in range(n):
        messages = [{"role": "system", "content": rng.choice(systems)}] if rng.random() < system_share else []
        for _ in range(rng.randint(*exchanges)):
            messages.append({"role": "user", "content": " ".join(rng.choices(vocab, k=rng.randint(*user_words)))})
            messages.append({"role": "assistant",
                             "content": " ".join(rng.choices(vocab, k=rng.randint(*reply_words)))})
        yield messages


def real_conversations(n: int) -> Iterator[list[dict]]:
    """gsm8k's question/answer rows as conversations, cycled to `n`, each copy numbered."""
    if not GSM8K.exists():
        raise SystemExit(f"--lang real needs {GSM8K} (the shared data beside the checkout)")
    rows = [json.loads(line) for line in GSM8K.read_text(encoding="utf-8").splitlines() if line.strip()]
    for i in range(n):
        row = rows[i % len(rows)]
        copy = f" ({i // len(rows) + 1})" if i >= len(rows) else ""
        yield [{"role": "user", "content": row["question"] + copy}, {"role": "assistant", "content": row["answer"]}]


TOOLS = [{"type": "function", "function": {
    "name": "get_weather", "description": "Weather of a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["c", "f"]},
                                                    "days": {"type": "integer", "minimum": 1, "maximum": 7}},
                   "required": ["city"], "additionalProperties": False}}},
    {"type": "function", "function": {
        "name": "search_products", "description": "Search the catalog",
        "parameters": {"type": "object", "properties": {"query": {"type": "string"},
                                                        "max_price": {"type": "number", "minimum": 0}},
                       "required": ["query"]}}}]


def with_tool_calls(messages: list[dict], rng: random.Random, vocab: tuple[str, ...]) -> dict:
    """A row with the two TOOLS declared and, after the first user turn, one or two calls (arguments
    as an object or as JSON text, in the row's language) answered by tool messages."""
    at = next(i for i, m in enumerate(messages) if m["role"] == "user") + 1
    calls, results = [], []
    for k in range(rng.randint(1, 2)):
        if rng.random() < 0.5:
            name, arguments = "get_weather", {"city": rng.choice(vocab), "unit": rng.choice("cf"), "days": rng.randint(1, 7)}
        else:
            name, arguments = "search_products", {"query": " ".join(rng.choices(vocab, k=3)), "max_price": rng.randint(1, 500)}
        text = json.dumps(arguments, ensure_ascii=False) if rng.random() < 0.5 else arguments
        calls.append({"id": f"call_{k}", "type": "function", "function": {"name": name, "arguments": text}})
        results.append({"role": "tool", "tool_call_id": f"call_{k}", "name": name,
                        "content": " ".join(rng.choices(vocab, k=rng.randint(5, 30)))})
    return {"messages": messages[:at] + [{"role": "assistant", "content": "", "tool_calls": calls}] + results
            + messages[at:], "tools": TOOLS}


def dumps(row: dict, lang: str) -> str:
    """One JSONL line: UTF-8 text, or `\\uXXXX` escapes for `escaped` (json.dumps' default)."""
    return json.dumps(row, ensure_ascii=lang in ("en", "escaped"))


def as_text_parts(messages: list[dict], rng: random.Random) -> list[dict]:
    """`messages` written as OpenAI content parts: each content one text part, a third of them cut
    into two at a space (what the C prover clears as the text they join to)."""
    out = []
    for m in messages:
        text = m["content"]
        cut = text.find(" ", len(text) // 2) if rng.random() < 1 / 3 else -1
        pieces = [text[:cut], text[cut:]] if cut > 0 else [text]
        out.append({**m, "content": [{"type": "text", "text": piece} for piece in pieces]})
    return out


def write_jsonl(path: Path, lang: str, n: int, *, seed: int = 0, with_id: bool = False, tools: bool = False,
                parts: bool = False, **shape: object) -> None:
    """`n` rows `{"messages": [...]}` (with `"id"` first when `with_id`; tool-calling rows with
    `tools`: `with_tool_calls`; contents as text parts with `parts`: `as_text_parts`) in `lang` to `path`."""
    rng, vocab = random.Random(seed + 1), words("en" if lang == "real" else lang)
    with path.open("w", encoding="utf-8") as f:
        for i, messages in enumerate(conversations(lang, n, seed=seed, **shape)):  # type: ignore[arg-type]
            if parts:
                messages = as_text_parts(messages, rng)
            row = with_tool_calls(messages, rng, vocab) if tools else {"messages": messages}
            f.write(dumps({"id": i, **row} if with_id else row, lang) + "\n")


def add_lang_argument(parser) -> None:  # noqa: ANN001 - argparse.ArgumentParser
    parser.add_argument("--lang", choices=LANGS + ("all",), default="all",
                        help="data language (default: all of them, one ratio each)")


def chosen(lang: str) -> tuple[str, ...]:
    """The languages to run: one, or all (without `real` when the shared data is absent)."""
    if lang != "all":
        return (lang,)
    return LANGS if GSM8K.exists() else LANGS[:-1]
