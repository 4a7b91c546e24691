"""Hypothesis strategies for conversations: `templates check` searches them for counter-examples
at run time, and the test suite's property tests reuse them (tests/strategies.py)."""

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
# (never a think tag: a reply with an unclosed <think> is an error, and reasoning has strategies of its own)
content = st.one_of(visible_text, padded_text, jinja_like.map(lambda j: "say " + j)).filter(
    lambda c: "<think>" not in c and "</think>" not in c)


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
