"""transformers' own renderer as the parity oracle, with the template's pinned variables: a
`PinnedDate` (gpt-oss prints today's date through `strftime_now`) cannot travel as a template
variable there (transformers turns it into text), so the oracle's clock is set to that day."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime
from typing import Any
from unittest import mock

from templating.spec import PinnedDate


@contextmanager
def _today(day: str | None):
    if day is None:
        yield
        return

    class Pinned(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> datetime:  # noqa: ARG003 - the signature datetime.now has
            return datetime.strptime(day, "%Y-%m-%d")

    with mock.patch("transformers.utils.chat_template_utils.datetime", Pinned):
        yield


def render_official(spec: Any, messages: list[dict], chat_template: str, **options: Any) -> tuple[str, list]:
    """(text, generation indices) of `messages` as transformers renders `chat_template` with the
    spec's BOS/EOS tokens and variables: `render_jinja_template`'s first conversation."""
    from transformers.utils.chat_template_utils import render_jinja_template

    plain = {k: v for k, v in spec.variables.items() if not isinstance(v, PinnedDate)}
    day = next((v.day for v in spec.variables.values() if isinstance(v, PinnedDate)), None)
    with _today(day):
        rendered, indices = render_jinja_template(conversations=[messages], chat_template=chat_template,
                                                  bos_token=spec.bos_token, eos_token=spec.eos_token,
                                                  **plain, **options)
    return rendered[0], indices[0] if indices else []
