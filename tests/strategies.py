"""Hypothesis strategies shared by every property test; conversation strategies live in the
package (templating/strategies.py) because `instructkit templates check` uses them too."""

from __future__ import annotations

from hypothesis import strategies as st

from templating.strategies import content, conversations, jinja_like, message, padded_text, text, visible_text

__all__ = ["any_order", "content", "conversations", "hash_rows", "jinja_like", "message", "metadata", "padded_text", "text",
           "visible_text", "wild_message", "wild_row"]

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
