"""Writes examples/tool_calls.jsonl (and its tools, examples/tools.json): tool-calling conversations written for instructkit (English
and Korean) over three tools: weather, currency conversion and a product catalog. Every row
declares the tools; most call one tool, some call two at once, some need no call at all.

Run: python examples/make_tool_calls.py (the file is committed; this is how it was made).
"""

from __future__ import annotations

import json
from pathlib import Path

TOOLS = [
    {"type": "function", "function": {
        "name": "get_weather", "description": "Current weather for a city.",
        "parameters": {"type": "object", "properties": {
            "city": {"type": "string", "description": "City name"},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
            "required": ["city"], "additionalProperties": False}}},
    {"type": "function", "function": {
        "name": "convert_currency", "description": "Convert an amount between two currencies.",
        "parameters": {"type": "object", "properties": {
            "amount": {"type": "number", "minimum": 0},
            "from_currency": {"type": "string", "enum": ["USD", "EUR", "KRW", "JPY", "GBP"]},
            "to_currency": {"type": "string", "enum": ["USD", "EUR", "KRW", "JPY", "GBP"]}},
            "required": ["amount", "from_currency", "to_currency"], "additionalProperties": False}}},
    {"type": "function", "function": {
        "name": "search_products", "description": "Search the shop's catalog.",
        "parameters": {"type": "object", "properties": {
            "query": {"type": "string"},
            "category": {"type": "string", "enum": ["kitchen", "books", "outdoor", "electronics"]},
            "max_price": {"type": "number", "minimum": 0}},
            "required": ["query"], "additionalProperties": False}}},
]

WEATHER = [("Seoul", "celsius", "3°C, clear", "It is 3°C and clear in Seoul right now."),
           ("Busan", "celsius", "9°C, windy", "Busan is at 9°C with strong wind."),
           ("London", "celsius", "11°C, light rain", "London has light rain at 11°C — take an umbrella."),
           ("New York", "fahrenheit", "41°F, cloudy", "New York is cloudy at 41°F."),
           ("Tokyo", "celsius", "14°C, sunny", "Tokyo is sunny, 14°C."),
           ("Jeju", "celsius", "12°C, fog", "Jeju is foggy at 12°C; drive carefully."),
           ("Paris", "celsius", "8°C, overcast", "Paris is overcast at 8°C.")]
WEATHER_KO = [("서울", "celsius", "영하 2°C, 맑음", "지금 서울은 영하 2도이고 맑아요."),
              ("부산", "celsius", "10°C, 흐림", "부산은 10도이고 흐립니다."),
              ("대전", "celsius", "5°C, 비", "대전에는 비가 오고 기온은 5도예요."),
              ("광주", "celsius", "7°C, 맑음", "광주는 7도, 맑은 날씨입니다.")]
MONEY = [(100, "USD", "KRW", "138,000 KRW", "100 US dollars is about 138,000 won."),
         (50, "EUR", "USD", "54.10 USD", "50 euros is about 54.10 US dollars."),
         (20000, "KRW", "JPY", "2,190 JPY", "20,000 won is about 2,190 yen."),
         (75, "GBP", "EUR", "87.60 EUR", "75 pounds is about 87.60 euros."),
         (1200, "JPY", "USD", "8.05 USD", "1,200 yen is about 8.05 US dollars."),
         (250, "USD", "EUR", "231.00 EUR", "250 US dollars is about 231 euros."),
         (10, "GBP", "KRW", "17,500 KRW", "10 pounds is about 17,500 won.")]
MONEY_KO = [(30, "USD", "KRW", "41,400 KRW", "30달러는 약 41,400원이에요."),
            (100000, "KRW", "EUR", "68.20 EUR", "10만 원은 약 68.20유로입니다."),
            (5000, "JPY", "KRW", "45,600 KRW", "5,000엔은 약 45,600원이에요.")]
SHOP = [("cast iron pan", "kitchen", 60, "Cast Iron Skillet 26 cm — $39; Cast Iron Grill Pan — $55",
         "Two pans fit: the 26 cm Cast Iron Skillet for $39 and the Grill Pan for $55."),
        ("hiking boots", "outdoor", 150, "Trail Boot Mid — $129; Ridge Runner — $145",
         "The Trail Boot Mid ($129) and the Ridge Runner ($145) are both under $150."),
        ("python programming", "books", 40, "Fluent Python — $38; Python Crash Course — $29",
         "Python Crash Course is $29 and Fluent Python $38."),
        ("noise cancelling headphones", "electronics", 200, "QuietOne 2 — $179",
         "The QuietOne 2 at $179 is the one model under $200."),
        ("tent for two", "outdoor", 250, "Dome 2P — $189; Ultralight 2 — $240",
         "The Dome 2P costs $189 and the Ultralight 2 $240."),
        ("chef's knife", "kitchen", 80, "Santoku 18 cm — $64", "The Santoku 18 cm is $64."),
        ("usb-c charger", "electronics", 30, "65 W GaN Charger — $27; 30 W Mini — $15",
         "The 30 W Mini is $15 and the 65 W GaN Charger $27.")]
SHOP_KO = [("전기 주전자", "kitchen", 50, "스테인리스 전기주전자 1.7L — $32",
            "스테인리스 전기주전자 1.7L가 32달러로 조건에 맞아요."),
           ("한국어 문법 책", "books", 30, "한국어 문법 정리 — $18; 쉬운 한국어 — $24",
            "'한국어 문법 정리'는 18달러, '쉬운 한국어'는 24달러예요.")]
NO_CALL = [("What can you help me with?",
            "I can check the weather in a city, convert between currencies and search the shop's catalog."),
           ("Thanks, that's all!", "You're welcome — have a good day!"),
           ("어떤 걸 도와줄 수 있어?", "도시 날씨 확인, 환율 계산, 상품 검색을 도와드릴 수 있어요."),
           ("Is 0°C freezing?", "Yes: water freezes at 0°C (32°F).")]


def call(n: int, name: str, arguments: dict) -> dict:
    return {"id": f"call_{n}", "type": "function", "function": {"name": name, "arguments": arguments}}


def one(question: str, name: str, arguments: dict, result: str, answer: str) -> dict:
    return {"messages": [{"role": "user", "content": question},
                         {"role": "assistant", "content": "", "tool_calls": [call(1, name, arguments)]},
                         {"role": "tool", "tool_call_id": "call_1", "name": name, "content": result},
                         {"role": "assistant", "content": answer}], "tools": TOOLS}


def rows() -> list[dict]:
    out = []
    for table, ask in ((WEATHER, "What's the weather like in {0}?"), (WEATHER_KO, "{0} 날씨 어때?")):
        for city, unit, result, answer in table:
            out.append(one(ask.format(city), "get_weather", {"city": city, "unit": unit}, result, answer))
    for table, ask in ((MONEY, "How much is {0:,} {1} in {2}?"), (MONEY_KO, "{0:,} {1}를 {2}로 바꾸면 얼마야?")):
        for amount, a, b, result, answer in table:
            out.append(one(ask.format(amount, a, b), "convert_currency",
                           {"amount": amount, "from_currency": a, "to_currency": b}, result, answer))
    for table, ask in ((SHOP, "Do you have {0} under ${1}?"), (SHOP_KO, "{1}달러 이하 {0} 있어?")):
        for query, category, price, result, answer in table:
            out.append(one(ask.format(query, price), "search_products",
                           {"query": query, "category": category, "max_price": price}, result, answer))
    for (a, ua, ra, _), (b, ub, rb, _) in zip(WEATHER, WEATHER[1:] + WEATHER[:1]):  # two calls at once
        out.append({"messages": [
            {"role": "user", "content": f"Compare the weather in {a} and {b}."},
            {"role": "assistant", "content": "", "tool_calls": [call(1, "get_weather", {"city": a, "unit": ua}),
                                                               call(2, "get_weather", {"city": b, "unit": ub})]},
            {"role": "tool", "tool_call_id": "call_1", "name": "get_weather", "content": ra},
            {"role": "tool", "tool_call_id": "call_2", "name": "get_weather", "content": rb},
            {"role": "assistant", "content": f"{a}: {ra}. {b}: {rb}."}], "tools": TOOLS})
    for question, answer in NO_CALL:  # tools declared, no call needed
        out.append({"messages": [{"role": "user", "content": question}, {"role": "assistant", "content": answer}],
                    "tools": TOOLS})
    return out


if __name__ == "__main__":
    path = Path(__file__).with_name("tool_calls.jsonl")
    written = rows()
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in written), encoding="utf-8")
    path.with_name("tools.json").write_text(json.dumps(TOOLS, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"{path}: {len(written)} rows")
