"""transformers' own renderer as the parity oracle, with the template's variables: a `PinnedDate`
(gpt-oss prints today's date through `strftime_now`) cannot travel as a template variable there,
so transformers' clock is set to that day (`templating.spec.transformers_clock`)."""

from __future__ import annotations

from typing import Any

from templating.spec import plain_variables, transformers_clock


def render_official(spec: Any, messages: list[dict], chat_template: str, **options: Any) -> tuple[str, list]:
    """(text, generation indices) of `messages` as transformers renders `chat_template` with the
    spec's BOS/EOS tokens and variables: `render_jinja_template`'s first conversation."""
    from transformers.utils.chat_template_utils import render_jinja_template

    with transformers_clock(spec):
        rendered, indices = render_jinja_template(conversations=[messages], chat_template=chat_template,
                                                  bos_token=spec.bos_token, eos_token=spec.eos_token,
                                                  **plain_variables(spec), **options)
    return rendered[0], indices[0] if indices else []
