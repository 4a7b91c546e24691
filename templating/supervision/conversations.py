"""The supervision audit: what training on each conversation really supervises, measured with the
real tokenizer and template — the failures that otherwise only show after training.

Per conversation: supervised tokens per assistant turn (a response marker the template never
marks trains nothing), the end-of-turn token inside the mask (else the model never learns to
stop), what truncation at `max_length` cuts, a single leading BOS, and the tokenizer's special
tokens forged from content. Findings are `validation.checks.rules.Finding`s (message index, field,
code from `validation/codes.py`, text); `templating.audit` (supervision/dataset.py) turns them into a report.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from templating.environment import TemplateError, TemplateLimit
from templating.environment import tools_of
from templating.spans import end_marker
from templating.spec import Rendered
from templating.tokens import fast_backend, token_at, mask_of, token_range
from validation.content import text_of
from validation.models import Conversation
from validation.checks.reasoning import CLOSE, think_range
from validation.checks.rules import Finding

if TYPE_CHECKING:
    from templating.registry import ChatTemplate

# What happens to a conversation over max_length: cut its end (TRL's default), drop its oldest
# turns first (keeping the system prompt and the last reply), leave it out, or stop with an error.
OVER_LENGTH = ("truncate", "truncate-prompt", "drop", "raise")
# Which assistant turns train: all of them, or the last one only; a message's own `train: true|false`
# decides for that turn either way.
TRAIN_ON = ("all", "last")


def trained_turns(messages: Sequence[Any], train_on: str = "all") -> list[bool]:
    """Per assistant turn of `messages` (`Message`s or dicts): is it trained?

    Example:
        >>> turns = [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b", "train": False},
        ...          {"role": "user", "content": "c"}, {"role": "assistant", "content": "d"}]
        >>> trained_turns(turns), trained_turns(turns[:3] + [{**turns[3], "train": False}], "last")
        ([False, True], [False, False])
    """
    replies = [m if isinstance(m, dict) else {"role": m.role, **(m.model_extra or {})} for m in messages]
    replies = [m for m in replies if m.get("role") == "assistant"]
    out = []
    for k, m in enumerate(replies):
        own = m.get("train")
        out.append(own if isinstance(own, bool) else train_on == "all" or k == len(replies) - 1)
    return out


@dataclass(frozen=True)
class RowAudit:
    """One conversation as training sees it: ids, assistant mask (both before truncation), the
    messages trained on (oldest turns gone under `truncate-prompt`), and what is wrong with it."""

    ids: list[int]
    mask: list[int]
    messages: list[Any]
    findings: list[Finding] = field(default_factory=list)
    dropped: bool = False
    tools: list[Any] | None = None  # the row's tools, rendered with it (templating.registry.tools_of)
    untrained: int = 0  # assistant turns left out of the mask (`train: false`, `train_on: last`)
    # a preference row (templating/supervision/pairs.py): its value and its `PairTokens` as training cuts them,
    # what `training.preference.prepare` hands the trainer (the run tokenizes each pair once)
    pair: tuple[Any, Any] | None = None
    row: int = 0  # the row of the source it was read from (audit_rows sets it)


def special_tokens(tokenizer: Any, template: ChatTemplate) -> tuple[str, ...]:
    """The template's special tokens plus every special token the tokenizer knows."""
    backend = fast_backend(tokenizer)
    known = set(template.spec.special_tokens)
    decoder = getattr(backend, "get_added_tokens_decoder", None)
    if decoder is not None:
        known |= {t.content for t in decoder().values() if t.special and t.content}
    return tuple(sorted(known, key=lambda t: (-len(t), t)))


def _token_id(backend: Any, token: str) -> int | None:
    return backend.token_to_id(token) if token else None


VISION = ("the conversation holds images: a text model would drop them and train their placeholders as text "
          "(train a vision-language model for them: docs/training.md)")


class Auditor:
    """Audits conversations for one (tokenizer, template, max_length); reusable across batches."""

    def __init__(self, tokenizer: Any, template: ChatTemplate, max_length: int | None = None,
                 over_length: str = "truncate", train_on: str = "all") -> None:
        if over_length not in OVER_LENGTH:
            raise ValueError(f"over_length must be one of {', '.join(OVER_LENGTH)}, got {over_length!r}")
        if train_on not in TRAIN_ON:
            raise ValueError(f"train_on must be one of {', '.join(TRAIN_ON)}, got {train_on!r}")
        self.train_on = train_on
        self.backend = fast_backend(tokenizer)
        self.template = template
        self.max_length = max_length
        self.over_length = over_length
        tokens = special_tokens(tokenizer, template)
        self._forged = re.compile("|".join(map(re.escape, tokens))) if tokens else None
        self.bos = template.spec.bos_token
        self.bos_id = _token_id(self.backend, self.bos)
        self.ends = template.spec.end_markers  # what a reply's span ends with (gpt-oss: one of three)

    def audit(self, conversations: Sequence[Any]) -> list[RowAudit]:
        """One `RowAudit` per conversation (messages as `Conversation`, `Message`s or dicts)."""
        rows = [Conversation.of(c) for c in conversations]
        tools_of_rows = [tools_of(row) for row in rows]
        rendered = [self._render(row.messages, tools) for row, tools in zip(rows, tools_of_rows)]
        encodings = self._encode(rendered)
        out = []
        for row, tools, r, encoding in zip(rows, tools_of_rows, rendered, encodings):
            messages = row.messages
            if any(isinstance(m.content, list) and any(p.type != "text" for p in m.content) for m in messages):
                out.append(RowAudit([], [], messages, [Finding(None, None, "vision-not-supported", VISION)],
                                    dropped=True, tools=tools))
                continue
            if isinstance(r, str):
                out.append(RowAudit([], [], messages, [Finding(None, None, "template-refused", r)], dropped=True,
                                    tools=tools))
                continue
            findings, dropped, index = [], False, list(range(len(messages)))
            if self.max_length is not None and len(encoding) > self.max_length:
                findings, messages, r, encoding, dropped, index = self._over_length(messages, r, encoding, tools)
            trains = trained_turns(messages, self.train_on)
            spans = r.assistant_spans if len(r.assistant_spans) != len(trains) else \
                [span for span, trained in zip(r.assistant_spans, trains) if trained]
            ids, mask = encoding.ids, mask_of(encoding, Rendered(r.text, spans))  # .ids: a new list each call
            findings = self._forged_tokens(messages, index) + self._bos(ids, r.text) + findings
            findings += self._turns(messages, index, r, encoding, mask, truncated=not dropped, trains=trains)
            findings += self._tool_turns(messages, index, tools, trains)
            if trains and not any(trains):
                findings.append(Finding(None, None, "no-trained-turn", "every assistant turn is marked train: false: "
                                        "the row trains nothing"))
            out.append(RowAudit(ids, mask, messages, findings, dropped, tools, untrained=trains.count(False)))
        return out

    def _render(self, messages: list[Any], tools: list[Any] | None = None) -> Rendered | str:
        try:
            return self.template.render(messages, tools=tools)
        except TemplateLimit:
            raise  # the template is broken for every row, not refusing this one
        except TemplateError as exc:
            return str(exc)

    def _encode(self, rendered: Sequence[Rendered | str]) -> list[Any]:
        return self.backend.encode_batch([r.text if isinstance(r, Rendered) else "" for r in rendered],
                                         add_special_tokens=False)

    def _over_length(self, messages: list[Any], rendered: Rendered, encoding: Any,
                     tools: list[Any] | None = None) -> tuple[Any, ...]:
        """Apply the over-length policy to one conversation longer than max_length: (findings,
        messages, rendered, encoding, dropped, index of each kept message in the original)."""
        length, limit, index = len(encoding), self.max_length, list(range(len(messages)))
        if self.over_length == "drop":
            return [Finding(None, None, "too-long", f"{length} tokens > max_length {limit}: left out of training "
                     "(over_length: drop)")], messages, rendered, encoding, True, index
        if self.over_length == "raise":
            return [Finding(None, None, "over-length", f"{length} tokens > max_length {limit} (over_length: raise)")], \
                messages, rendered, encoding, True, index
        if self.over_length == "truncate-prompt":
            return self._drop_oldest(messages, rendered, encoding, tools)
        return [], messages, rendered, encoding, False, index

    def _drop_oldest(self, messages: list[Any], rendered: Rendered, encoding: Any,
                     tools: list[Any] | None = None) -> tuple[Any, ...]:
        """Drop the oldest turns (after a system prompt) until the conversation fits; when even the
        last exchange does not fit, keep it: truncation cuts its end."""
        length, limit = len(encoding), self.max_length
        start = 1 if messages[0].role == "system" else 0
        original, removed, index = messages, 0, list(range(len(messages)))
        for cut in (i for i in range(start + 1, len(original)) if original[i].role == "user"):
            fitted = original[:start] + original[cut:]
            r = self._render(fitted, tools)
            if isinstance(r, str):
                continue
            messages, rendered, encoding, removed = fitted, r, self._encode([r])[0], cut - start
            index = list(range(start)) + list(range(cut, len(original)))
            if len(encoding) <= limit:
                break
        note = f"the {removed} oldest messages are dropped, now {len(encoding)} tokens" if removed else \
            "no earlier turn to drop; truncation cuts the end"
        return [Finding(None, None, "too-long", f"{length} tokens > max_length {limit}: {note} (over_length: "
                 "truncate-prompt)")], messages, rendered, encoding, False, index

    def _forged_tokens(self, messages: list[Any], index: list[int]) -> list[Finding]:
        if self._forged is None:
            return []
        return [Finding(index[i], "content", "special-token-in-content",
                 f"{hit.group()!r} at offset {hit.start()} is a special token of the tokenizer: it is encoded "
                 f"as the real token and forges structure")
                for i, m in enumerate(messages) if (hit := self._forged.search(text_of(m.content)))]

    def _bos(self, ids: list[int], text: str) -> list[Finding]:
        if not self.bos or not text.startswith(self.bos):
            return []
        if self.bos_id is None or not ids or ids[0] != self.bos_id:
            return [Finding(None, None, "missing-bos", f"the template writes {self.bos!r} but the tokenizer has no "
                            "such token: it is encoded as ordinary text")]
        if len(ids) > 1 and ids[1] == self.bos_id:
            return [Finding(None, None, "double-bos", f"the ids start with {self.bos!r} twice")]
        return []

    def _turns(self, messages: list[Any], index: list[int], rendered: Rendered, encoding: Any, mask: list[int], *,
               truncated: bool, trains: list[bool]) -> list[Finding]:
        """Per assistant turn that trains (`index` maps it to its position in the original conversation)."""
        turns = [index[i] for i, m in enumerate(messages) if m.role == "assistant"]
        spans = rendered.assistant_spans
        if not spans:
            return [Finding(i, "content", "response-not-supervised",
                     f"template {self.template.name} marks no trained tokens (no generation span): this turn "
                     "trains nothing") for i in turns]
        if len(spans) != len(turns):
            return [Finding(None, None, "response-not-supervised", f"template {self.template.name} marks {len(spans)} "
                     f"trained spans for {len(turns)} assistant turns")]
        findings: list[Finding] = []
        limit = self.max_length if truncated else None
        kept = supervised = 0
        for turn, (start, end), trained in zip(turns, spans, trains):
            if not trained:  # left out on purpose: nothing to check
                continue
            span = token_range(encoding, start, end, len(rendered.text))
            tokens = [t for t in range(span[0], span[1] + 1) if mask[t]] if span is not None else []
            if not tokens:
                findings.append(Finding(turn, "content", "response-not-supervised",
                                        "no token of this response is in the mask"))
                continue
            eot, eot_at = end_marker(rendered.text, self.ends, start)
            # the token holding the marker's first character (or its next one: offsets can skip
            # characters the vocabulary cannot spell)
            eot_token = token_at(encoding, eot_at, 1, eot_at + len(eot)) if eot_at >= 0 else None
            if eot_token is None or not mask[eot_token]:
                what = "is not in the mask" if eot_token is not None else "does not follow the response"
                findings.append(Finding(turn, "content", "end-of-turn-not-supervised",
                                        f"the end-of-turn {eot!r} {what}: the model never learns to stop after "
                                        "this turn"))
            if limit is not None and tokens[-1] >= limit:
                findings.append(self._cut(turn, rendered.text, start, end, encoding, tokens, limit))
            supervised += len(tokens)
            kept += len(tokens) if limit is None or tokens[-1] < limit else sum(1 for t in tokens if t < limit)
        if limit is not None and len(encoding) > limit and supervised and kept == 0:
            findings.append(Finding(None, None, "truncated-to-nothing", f"truncation at {limit} tokens leaves no "
                                 "trained token"))
        return findings

    def _cut(self, turn: int, text: str, start: int, end: int, encoding: Any, tokens: list[int],
             limit: int) -> Finding:
        """The finding for a trained span truncation cuts: inside its think block (the trained part
        ends in reasoning, with no `</think>`, no answer and no end of turn), or elsewhere."""
        size = f"(the conversation has {len(encoding)})"
        if tokens[0] < limit:
            block = think_range(text, start, end)
            cut_at = encoding.offsets[limit][0]  # the first character truncation drops
            if block is not None and cut_at < block[1]:
                kept = cut_at - start
                return Finding(turn, "content", "reasoning-truncated",
                               f"truncation at {limit} tokens {size} cuts inside this turn's think block: the "
                               f"{kept} characters trained end in reasoning, with no {CLOSE}, no answer and no "
                               "end of turn")
        cut = "wholly" if tokens[0] >= limit else "partly"
        return Finding(turn, "content", "response-truncated", f"{cut} cut by truncation at {limit} tokens {size}")

    def _tool_turns(self, messages: list[Any], index: list[int], tools: list[Any] | None,
                    trains: list[bool]) -> list[Finding]:
        """Each call inside its turn's trained span, each tool result outside every span: found by
        rendering the conversation once more with each call's name and each result's text replaced
        by a marker no text holds, wherever the template puts them."""
        if not any(m.role == "tool" or m.tool_calls for m in messages):
            return []
        marked = []
        for i, m in enumerate(messages):
            if m.role == "tool":
                m = m.model_copy(update={"content": f"\ue000R{i}\ue001"})
            elif m.tool_calls:
                calls = [c.model_copy(update={"function": c.function.model_copy(
                    update={"name": f"\ue000C{i}.{j}\ue001"})}) for j, c in enumerate(m.tool_calls)]
                m = m.model_copy(update={"tool_calls": calls})
            marked.append(m)
        rendered = self._render(marked, tools)
        if isinstance(rendered, str):
            return []  # the template refuses the markers; the real render was audited above
        text, spans = rendered.text, rendered.assistant_spans

        def trained(marker: str) -> bool | None:
            at = text.find(marker)
            return None if at < 0 else any(a <= at < b for a, b in spans)

        findings: list[Finding] = []
        left_out = {i for i, t in zip([i for i, m in enumerate(messages) if m.role == "assistant"], trains) if not t}
        for i, m in enumerate(messages):
            if i in left_out:
                continue
            if m.role == "tool" and trained(f"\ue000R{i}\ue001"):
                findings.append(Finding(index[i], "content", "tool-result-supervised",
                                        "this tool result is inside a trained span: the model would learn to "
                                        "write the tool's output itself"))
            for j, call in enumerate(m.tool_calls or ()):
                if trained(f"\ue000C{i}.{j}\ue001") is False:
                    findings.append(Finding(index[i], f"tool_calls[{j}]", "call-not-supervised",
                                            f"the call of {call.function.name!r} is not in this turn's trained span: "
                                            "the model never learns to make it"))
        return findings
