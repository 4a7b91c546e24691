"""Hypothesis strategies shared by every property test."""

from __future__ import annotations

from hypothesis import strategies as st

# Text as users write it: any unicode except surrogates, with whitespace at the edges sometimes.
text = st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=40)
visible_text = st.text(alphabet=st.characters(exclude_categories=("Cs", "Cc", "Zs", "Zl", "Zp")),
                       min_size=1, max_size=30)
padded_text = st.builds(lambda pre, core, post: pre + core + post,
                        st.sampled_from(["", " ", "\n", "  \t"]), visible_text,
                        st.sampled_from(["", " ", "\n", " \n "]))
jinja_like = st.sampled_from(["{{ x }}", "{% if %}", "{#", "}}", "{%- raw %}"])
content = st.one_of(visible_text, padded_text, jinja_like.map(lambda j: "say " + j))


def message(role: str) -> st.SearchStrategy[dict]:
    return st.builds(lambda c: {"role": role, "content": c}, content)


@st.composite
def conversations(draw, *, min_turns: int = 1, max_turns: int = 4, system: bool | None = None) -> list[dict]:
    """Valid orders: optional system, then user/assistant pairs ending with an assistant turn."""
    with_system = draw(st.booleans()) if system is None else system
    turns = draw(st.lists(st.tuples(message("user"), message("assistant")), min_size=min_turns,
                          max_size=max_turns))
    messages = [draw(message("system"))] if with_system else []
    for user, assistant in turns:
        messages += [user, assistant]
    return messages


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
