"""Writes examples/preferences.jsonl: preference pairs written for instructkit (English and Korean).
Each prompt is an everyday question; the chosen reply answers it briefly and kindly, the rejected
one brushes the asker off, or rambles without answering (longer than the chosen reply in six
pairs, so that length alone does not tell the two apart). DPO on them teaches SmolLM2 to prefer
the helpful reply.

Run: python examples/make_preferences.py (the file is committed; this is how it was made).
"""

from __future__ import annotations

import json
from pathlib import Path

# (question, helpful reply, dismissive reply)
PAIRS = [
    ("How do I boil an egg?", "Put the egg in boiling water for 9 minutes, then cool it in cold water.",
     "Eggs are a very old food, and people in many countries have eaten them in many different ways for "
     "thousands of years, so there are a lot of opinions."),
    ("What's a good way to fall asleep faster?", "Keep a regular bedtime, dim the lights and put your phone away "
     "half an hour before bed.", "Just sleep."),
    ("How can I remember new words?", "Review them a few minutes every day and use each one in a sentence.",
     "You can't, so why bother?"),
    ("How do I make my tea less bitter?", "Steep it for less time, about two to three minutes, in water just off "
     "the boil.", "Drink something else."),
    ("What should I pack for a day hike?", "Water, a snack, a rain jacket, sunscreen and a charged phone.",
     "Hiking is a popular hobby and many people enjoy it on weekends; there are many trails and many kinds of "
     "weather, and everyone has different needs."),
    ("How do I keep basil alive?", "Give it lots of sun, water it when the soil feels dry and pinch off the "
     "flowers.", "Buy a new one when it dies."),
    ("Can you help me write a thank-you note?", "Of course: \"Thank you so much for the lovely gift. It made my "
     "day!\"", "Write it yourself."),
    ("How do I stop my glasses from fogging up?", "Wash them with a drop of dish soap and let them air-dry; the "
     "thin film keeps fog away.", "Take them off."),
    ("What is a healthy breakfast?", "Oatmeal with fruit and a handful of nuts keeps you full until lunch.",
     "Who cares about breakfast?"),
    ("How do I clean a cast-iron pan?", "Rinse it with hot water, scrub with salt if needed, dry it on the stove "
     "and rub in a little oil.", "Cast iron has been used in kitchens for centuries, and whole online forums are full "
     "of people who disagree about how to care for it."),
    ("How long should I rest between workouts?", "Give each muscle group about 48 hours before working it hard "
     "again.", "Rest is for the weak."),
    ("How do I start learning to code?", "Pick one language, such as Python, and build a tiny project you care "
     "about.", "Coding is a big topic with a long history, many languages, many books and many opinions, and "
     "people argue about it online all the time."),
    ("라면을 맛있게 끓이는 방법이 있나요?", "물 550ml를 끓인 뒤 면과 스프를 넣고 4분 반 정도 끓이면 좋아요.",
     "라면은 여러 나라에서 사랑받는 음식이고 종류도 정말 많아서, 사람마다 좋아하는 방법이 다 다르고 정답은 없다고 할 수 "
     "있어요."),
    ("잠이 안 올 때 어떻게 하면 좋을까요?", "잠들기 30분 전에는 휴대폰을 내려놓고, 조명을 어둡게 해 보세요.",
     "그냥 누워 있으세요."),
    ("영어 단어를 잘 외우는 방법이 있나요?", "매일 조금씩 복습하고, 새 단어로 직접 문장을 만들어 보세요.",
     "외워도 다 까먹어요."),
    ("비 오는 날 빨래는 어떻게 말리나요?", "선풍기나 제습기를 틀고, 빨래 사이 간격을 넓게 두세요.",
     "말리지 마세요."),
    ("화분에 물은 얼마나 자주 줘야 하나요?", "겉흙이 말랐을 때 흠뻑 주는 게 좋아요. 보통 일주일에 한 번쯤이에요.",
     "그건 식물한테 물어보세요."),
    ("감기에 걸렸을 때 뭘 먹으면 좋아요?", "따뜻한 죽이나 국, 그리고 물을 충분히 드세요.",
     "감기는 누구나 걸리는 흔한 병이고 계절이 바뀔 때 특히 많이 걸리며, 사람마다 증상도 조금씩 다르게 나타나요."),
    ("자전거 체인에서 소리가 나요.", "체인을 닦고 전용 오일을 조금 발라 주면 소리가 줄어들어요.",
     "그냥 타세요."),
    ("발표할 때 떨지 않는 방법이 있을까요?", "미리 소리 내어 세 번 연습하고, 발표 전에 천천히 숨을 쉬어 보세요.",
     "떨리면 하지 마세요."),
]


def rows() -> list[dict]:
    return [{"prompt": [{"role": "user", "content": question}],
             "chosen": [{"role": "assistant", "content": good}],
             "rejected": [{"role": "assistant", "content": bad}]} for question, good, bad in PAIRS]


if __name__ == "__main__":
    here = Path(__file__).parent
    (here / "preferences.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows()),
                                            encoding="utf-8")
