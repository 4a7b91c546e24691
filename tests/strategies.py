"""Hypothesis strategies shared by every property test; conversation strategies live in the
package (templating/probes/strategies.py) because `instructkit templates check` uses them too."""

from __future__ import annotations

from hypothesis import assume
from hypothesis import strategies as st

from templating.probes.strategies import content, conversations, jinja_like, message, padded_text, text, visible_text
from validation.checks.rules import PartSupport, TemplateRules
from validation.models import Message, Preference

__all__ = ["any_order", "content", "conversations", "hash_rows", "in_layout", "jinja_like", "message", "metadata",
           "pair_rows", "pairs", "padded_text", "text", "tool_conversations", "visible_text", "wild_message",
           "wild_row"]

metadata = st.dictionaries(st.sampled_from(["id", "source", "score", "tags"]),
                           st.one_of(st.integers(-10**30, 10**30), st.text(max_size=5),
                                     st.lists(st.integers(), max_size=3)), max_size=3)

# Messages with anything a row can hold: wrong types, unknown roles, empty content.
wild_message = st.one_of(
    st.builds(lambda r, c: {"role": r, "content": c},
              st.sampled_from(["system", "user", "assistant", "tool", "User", "bot", "", None, 3]),
              st.one_of(text, st.none(), st.integers(), st.lists(st.text(max_size=3), max_size=2))),
    st.dictionaries(st.sampled_from(["role", "content", "name", "weight"]), st.text(max_size=4), max_size=3),
    st.text(max_size=3), st.integers())
wild_row = st.one_of(
    st.builds(lambda ms: {"messages": ms}, st.lists(wild_message, max_size=5)),
    st.builds(lambda ms: {"messages": ms}, conversations()),
    st.dictionaries(st.text(max_size=8), st.text(max_size=8), max_size=3))

# Any order of plain roles, for comparing what two renderers accept and refuse.
any_order = st.lists(st.builds(lambda r, c: {"role": r, "content": c},
                               st.sampled_from(["system", "user", "assistant"]), content), min_size=1, max_size=6)


# Row hashes for duplicate detection: few distinct values so that repeats are common, and a
# folded hash that every copy of an exact hash shares (as the fold of equal texts is equal).
def _hash_rows(exact: list[int], fold_of: dict[int, int]) -> list[tuple[int, int]]:
    return [(e, fold_of[e]) for e in exact]


hash_rows = st.builds(_hash_rows, st.lists(st.integers(0, 12), max_size=60),
                      st.fixed_dictionaries({e: st.integers(0, 5) for e in range(13)}))


# Tool-calling conversations as datasets store them: the row's `tools`, assistant turns with one
# to three calls (ids or none; arguments an object or its JSON text) answered in order by tool
# messages, and a closing reply. Every row is valid against its own tools.
WEATHER_TOOL = {"type": "function", "function": {
    "name": "get_weather", "description": "Weather of a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"},
                                                    "unit": {"type": "string", "enum": ["c", "f"]},
                                                    "days": {"type": "integer", "minimum": 1, "maximum": 7}},
                   "required": ["city"], "additionalProperties": False}}}
SEARCH_TOOL = {"type": "function", "function": {
    "name": "search_products", "description": "Search the catalog",
    "parameters": {"type": "object", "properties": {"query": {"type": "string"},
                                                    "max_price": {"type": "number", "minimum": 0},
                                                    "tags": {"type": "array", "items": {"type": "string"}}},
                   "required": ["query"]}}}

_weather_args = st.fixed_dictionaries({"city": visible_text}, optional={
    "unit": st.sampled_from(["c", "f"]), "days": st.integers(1, 7)})
_search_args = st.fixed_dictionaries({"query": visible_text}, optional={
    "max_price": st.one_of(st.integers(0, 10**6), st.floats(0, 1e6, allow_nan=False)),
    "tags": st.lists(visible_text, max_size=3)})


@st.composite
def tool_conversations(draw, max_calls: int = 3, forms: tuple[str, ...] = ("object", "string"),
                       ids: bool | None = None, text_beside_calls: bool = True) -> tuple[list[dict], list[dict]]:
    """(messages, tools) of one valid tool-calling conversation, up to `max_calls` calls a turn,
    arguments written in one of `forms` (a JSON "string" or an "object"), call ids (9 letters and
    digits, as mistral-common requires) always, never or drawn (`ids` None), text beside calls
    or not."""
    import json

    tools = [WEATHER_TOOL, SEARCH_TOOL]
    messages = [{"role": "user", "content": draw(visible_text)}]
    with_ids = draw(st.booleans()) if ids is None else ids
    count = 0
    for _ in range(draw(st.integers(1, 2))):
        calls = []
        for _ in range(draw(st.integers(1, max_calls))):
            count += 1
            name, args = draw(st.sampled_from([("get_weather", _weather_args), ("search_products", _search_args)]))
            arguments = draw(args)
            call = {"type": "function", "function": {
                "name": name, "arguments": json.dumps(arguments, ensure_ascii=False)
                if draw(st.sampled_from(forms)) == "string" else arguments}}
            calls.append({"id": f"call{count:05d}", **call} if with_ids else call)
        messages.append({"role": "assistant", "content": draw(st.sampled_from(["", draw(visible_text)]))
                         if text_beside_calls else "", "tool_calls": calls})
        for call in calls:
            result = {"role": "tool", "content": draw(visible_text)}
            if with_ids:
                result["tool_call_id"] = call["id"]
            if draw(st.booleans()):
                result["name"] = call["function"]["name"]
            messages.append(result)
    messages.append({"role": "assistant", "content": draw(visible_text)})
    return messages, tools


@st.composite
def pairs(draw, plain: bool = False):
    """Preference pairs: a prompt ending with a user turn, two different one-message replies."""
    prompt = draw(conversations(min_turns=0, max_turns=2, system=False if plain else None))
    prompt = prompt + [{"role": "user", "content": draw(content)}]
    chosen, rejected = draw(content), draw(content)
    assume(chosen != rejected)
    metadata = draw(st.dictionaries(st.sampled_from(["id", "source"]), st.text(max_size=4), max_size=2))
    return Preference(prompt=[Message(**m) for m in prompt], chosen=[Message(role="assistant", content=chosen)],
                      rejected=[Message(role="assistant", content=rejected)], metadata=metadata)


@st.composite
def pair_rows(draw):
    """Rows of format `preference` as real data holds them: message lists, or strings when the
    prompt is one user turn; broken (or not) the ways real data is: a reply's role, an empty or
    whitespace reply, the same reply twice (exactly or in case), a control character, a think tag,
    a field gone, replies that begin alike."""
    pair = draw(pairs())
    row = {"prompt": [m.to_dict() for m in pair.prompt], "chosen": [m.to_dict() for m in pair.chosen],
           "rejected": [m.to_dict() for m in pair.rejected], **pair.metadata}
    strings = len(pair.prompt) == 1 and pair.prompt[0].role == "user" and draw(st.booleans())
    if strings:
        row.update(prompt=pair.prompt[0].content, chosen=pair.chosen[0].content, rejected=pair.rejected[0].content)
    kind = draw(st.sampled_from(["none", "role", "empty", "blank", "same", "case", "alike", "control", "think",
                                 "missing"]))
    side = draw(st.sampled_from(["chosen", "rejected"]))
    text = row[side] if strings else row[side][0]["content"]
    if kind == "role" and not strings:
        row[side][0]["role"] = draw(st.sampled_from(["user", "system", "Assistant"]))
    elif kind in ("empty", "blank", "control", "think"):
        text = {"empty": "", "blank": " \n", "control": text + "\x07", "think": "<think>" + text}[kind]
    elif kind == "same":
        row["rejected"] = row["chosen"]
    elif kind in ("case", "alike"):  # the rejected reply: the chosen one in capitals, or beginning like it
        chosen = row["chosen"] if strings else row["chosen"][0]["content"]
        rejected = row["rejected"] if strings else row["rejected"][0]["content"]
        side = "rejected"
        text = chosen.upper() + " " if kind == "case" else chosen[:draw(st.integers(1, 3))] + rejected
    elif kind == "missing":
        del row[draw(st.sampled_from(["prompt", "chosen", "rejected"]))]
        return row
    if strings:
        row[side] = text
    elif kind != "same":
        row[side] = [{**row[side][0], "content": text}]
    return row


def in_layout(row: dict, name: str) -> dict:
    """A `preference` row written by hand as format `name` writes pairs, so that broken rows stay broken."""
    if name == "preference" or not {"prompt", "chosen", "rejected"} <= row.keys():
        return row
    parts = {k: [{"role": "user" if k == "prompt" else "assistant", "content": row[k]}] if isinstance(row[k], str)
             else row[k] for k in ("prompt", "chosen", "rejected")}
    rest = {k: v for k, v in row.items() if k not in parts}
    chosen, rejected = parts["prompt"] + parts["chosen"], parts["prompt"] + parts["rejected"]
    if name == "preference-implicit":
        return {**rest, "chosen": chosen, "rejected": rejected}
    return {**rest, **{k: "".join(("\n\nHuman: " if m.get("role") == "user" else "\n\nAssistant: ") +
                                  str(m.get("content")) for m in messages)
                       for k, messages in (("chosen", chosen), ("rejected", rejected))}}


# rules of a template that renders text parts from users and assistants (not in a system turn)
PART_RULES = TemplateRules(name="parts", special_tokens=("<|im_start|>",), parts=PartSupport(("user", "assistant")))


@st.composite
def with_parts(draw, messages: list[dict]) -> dict:
    """`messages` with some contents written as parts: text parts (cut anywhere, keys in either order),
    and now and then a part the C prover leaves to Python (an image, another key, no text)."""
    out = []
    for m in messages:
        if draw(st.booleans()):
            text = m["content"]
            cut = draw(st.integers(0, len(text)))
            parts = [{"type": "text", "text": piece} for piece in (text[:cut], text[cut:]) if piece] or \
                [{"type": "text", "text": text}]
            if draw(st.booleans()):
                parts = [{"text": p["text"], "type": "text"} for p in parts]
            odd = draw(st.sampled_from([None, {"type": "image"}, {"type": "text", "text": "x", "cache": 1},
                                        {"type": "text"}, {"type": "text", "text": 3}, []]))
            if odd is not None:
                parts.insert(draw(st.integers(0, len(parts))), odd)
            m = {**m, "content": parts}
        out.append(m)
    return {"messages": out}


def as_template_reads(template, messages: list[dict]) -> list[dict]:
    """`messages` as a template that reads content parts only takes them (SmolVLM's, Idefics3's): each
    string content of such a role as one text part; other templates' conversations as they are."""
    from templating.probes.capabilities import part_support
    from validation.content import as_parts

    return as_parts(messages, part_support(template).needs_parts)
