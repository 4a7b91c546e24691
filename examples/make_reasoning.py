"""Writes examples/reasoning.jsonl: word problems written for instructkit (English and Korean) whose
replies think first, then answer. The reasoning is kept the ways datasets keep it: most rows in a
`reasoning_content` field (as Qwen3 and vLLM write it), some as a `<think>` block at the start of
the content (as DeepSeek-R1 distills write it); a few rows are two-turn, reasoning in both replies.

Run: python examples/make_reasoning.py (the file is committed; this is how it was made).
"""

from __future__ import annotations

import json
import random
from pathlib import Path

NAMES = ["Mia", "Leo", "Ava", "Sam", "Noah", "Zoe", "Eli", "Ivy"]
NAMES_KO = ["민지", "준호", "서연", "도윤", "하은", "지호"]
ITEMS = [("apples", "box"), ("pencils", "pack"), ("eggs", "carton"), ("stickers", "sheet"), ("books", "shelf")]
ITEMS_KO = [("사과", "상자"), ("연필", "묶음"), ("달걀", "판"), ("스티커", "장")]


def times(rng: random.Random) -> tuple[str, str, str]:
    each, count = rng.randint(3, 12), rng.randint(2, 9)
    thing, holder = rng.choice(ITEMS)
    total = each * count
    return (f"One {holder} holds {each} {thing}. How many {thing} are in {count} {holder}s?",
            f"Each {holder} holds {each} {thing}, and there are {count} of them.\n"
            f"{count} × {each} = {total}.", f"There are {total} {thing}.")


def change(rng: random.Random) -> tuple[str, str, str]:
    name, have = rng.choice(NAMES), rng.randint(5, 20)
    price, count = rng.randint(1, 4), rng.randint(1, 3)
    spent = price * count
    return (f"{name} has ${have} and buys {count} sandwich{'es' if count > 1 else ''} at ${price} each. "
            "How much money is left?",
            f"The sandwiches cost {count} × ${price} = ${spent}.\n{name} started with ${have}, "
            f"so ${have} − ${spent} = ${have - spent} is left.", f"{name} has ${have - spent} left.")


def share(rng: random.Random) -> tuple[str, str, str]:
    kids, each = rng.randint(2, 6), rng.randint(2, 8)
    total = kids * each
    return (f"{total} cookies are shared equally among {kids} children. How many cookies does each child get?",
            f"Sharing equally means dividing: {total} ÷ {kids} = {each}.\n"
            f"Check: {kids} × {each} = {total}.", f"Each child gets {each} cookies.")


def distance(rng: random.Random) -> tuple[str, str, str]:
    speed, hours = rng.choice([40, 50, 60, 80, 90]), rng.randint(2, 5)
    return (f"A train travels at {speed} km per hour for {hours} hours. How far does it go?",
            f"Distance is speed times time.\n{speed} km/h × {hours} h = {speed * hours} km.",
            f"It goes {speed * hours} km.")


def times_ko(rng: random.Random) -> tuple[str, str, str]:
    each, count = rng.randint(3, 12), rng.randint(2, 9)
    thing, holder = rng.choice(ITEMS_KO)
    total = each * count
    return (f"{thing} 한 {holder}에 {each}개가 들어 있어요. "
            f"{count}{holder}에는 {josa(thing, '이', '가')} 모두 몇 개인가요?",
            f"한 {holder}에 {each}개씩이고 {count}{josa(holder, '이', '가')} 있어요.\n"
            f"{count} × {each} = {total}.",
            f"모두 {total}개입니다.")


def change_ko(rng: random.Random) -> tuple[str, str, str]:
    name, have = rng.choice(NAMES_KO), rng.randint(5, 20) * 1000
    price = rng.randint(1, 4) * 1000
    return (f"{josa(name, '은', '는')} {have:,}원을 가지고 있고 {price:,}원짜리 김밥을 샀어요. "
            "남은 돈은 얼마인가요?",
            f"처음 돈에서 김밥 값을 빼요.\n{have:,} − {price:,} = {have - price:,}.",
            f"{have - price:,}원이 남았어요.")


def josa(word: str, with_final: str, without: str) -> str:
    """The word and the particle its last syllable takes (이/가, 은/는): 받침 or not."""
    last = ord(word[-1]) - 0xAC00
    return word + (with_final if 0 <= last < 11172 and last % 28 else without)


KINDS = [times, change, share, distance, times_ko, change_ko]
FOLLOW_UP = ("And if there were twice as many?", "만약 두 배라면요?")


def reply(reasoning: str, answer: str, inline: bool) -> dict:
    if inline:
        return {"role": "assistant", "content": f"<think>\n{reasoning}\n</think>\n\n{answer}"}
    return {"role": "assistant", "content": answer, "reasoning_content": reasoning}


def rows(n: int = 120, seed: int = 7) -> list[dict]:
    rng = random.Random(seed)
    out, seen = [], set()
    for i in range(n):
        kind = KINDS[i % len(KINDS)]
        question, reasoning, answer = kind(rng)
        while question in seen:  # every problem once
            question, reasoning, answer = kind(rng)
        seen.add(question)
        inline = i % 4 == 3  # a quarter keep the reasoning inline
        messages = [{"role": "user", "content": question}, reply(reasoning, answer, inline)]
        if kind in (times, times_ko) and (i // len(KINDS)) % 3 == 2:  # two turns: the follow-up reasons too
            korean = kind is times_ko
            total = int(reasoning.rsplit("= ", 1)[1].rstrip("."))
            follow = (f"두 배면 {total} × 2 = {total * 2}.", f"{total * 2}개입니다.") if korean else \
                (f"Twice as many is {total} × 2 = {total * 2}.", f"There would be {total * 2}.")
            messages += [{"role": "user", "content": FOLLOW_UP[korean]}, reply(*follow, inline)]
        out.append({"messages": messages})
    return out


if __name__ == "__main__":
    here = Path(__file__).parent
    (here / "reasoning.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows()),
                                          encoding="utf-8")
