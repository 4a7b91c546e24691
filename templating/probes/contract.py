"""The template contract, for any template (registry, user Jinja file, a tokenizer's own): the
properties training relies on, each searched for a counter-example with Hypothesis.

- `assistant-masked`: every assistant turn has trained characters (tokens with a tokenizer);
- `end-of-turn-masked`: the end-of-turn marker after each reply is trained;
- `single-bos`: the text (ids) does not start with two BOS;
- `prefix-stable`: rendering the first turns gives a prefix of rendering them all (history is
  never rewritten, so what the model saw in training is what it sees at inference);
- `generation-prompt`: the generation prompt is exactly the text before a reply's content.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from templating.environment import TemplateError, TemplateLimit
from templating.spans import end_marker, first_difference
from templating.registry import ChatTemplate
from templating.spec import Rendered
from validation.content import as_parts, text_of

PROPERTIES = ("assistant-masked", "end-of-turn-masked", "single-bos", "prefix-stable", "generation-prompt")
# What the tokenizer-level audit reports for each property.
_AUDIT_CODES = {"assistant-masked": "response-not-supervised", "end-of-turn-masked": "end-of-turn-not-supervised",
                "single-bos": "double-bos"}


@dataclass(frozen=True)
class PropertyOutcome:
    """One property: passed, failed with a (shrunk) counter-example, or not tested (`detail`)."""

    name: str
    passed: bool
    tested: int
    counterexample: list[dict[str, Any]] | None = None
    detail: str = ""


class Contract:
    """The properties of one template, optionally at the token level with `tokenizer`."""

    def __init__(self, template: ChatTemplate, tokenizer: Any = None) -> None:
        self.template = template
        self.spec = template.spec
        self.auditor = None
        if tokenizer is not None:
            from templating.supervision.conversations import Auditor

            self.auditor = Auditor(tokenizer, template)
        self.broken: TemplateLimit | None = None  # set when a render passed a limit
        self.refusal: str | None = None  # why the template last refused a conversation

    def _render(self, messages: list[dict[str, Any]], prompt: bool = False) -> Rendered | None:
        if self.broken is not None:
            return None
        try:
            return self.template.render(messages, add_generation_prompt=prompt)
        except TemplateLimit as exc:
            self.broken = exc  # broken for every conversation: `check` stops with this message
            return None
        except TemplateError as exc:
            self.refusal = str(exc)
            return None  # the template refuses this conversation: not a counter-example

    def _find(self, text: str, content: str, start: int, end: int) -> int:
        """Where `content` is in text[start:end]: as written, or trimmed (templates that trim it,
        including user templates whose metadata does not say so); -1 when absent."""
        at = -1 if self.spec.trims_content else text.find(content, start, end)
        return at if at >= 0 else text.find(content.strip(), start, end)

    def violation(self, name: str, messages: list[dict[str, Any]]) -> str | None:
        """Why `messages` breaks property `name`, or None (also when the template refuses them)."""
        if any(token in text_of(m["content"]) for m in messages for token in self.spec.special_tokens):
            return None  # forged structure is invalid data (validation rejects it), not a template fault
        rendered = self._render(messages)
        if rendered is None:
            return None
        if name in _AUDIT_CODES and self.auditor is not None:
            findings = self.auditor.audit([messages])[0].findings
            hit = next((f.text for f in findings if f.code == _AUDIT_CODES[name]), None)
            if hit is not None:
                return hit
        return getattr(self, "_" + name.replace("-", "_"))(messages, rendered)

    def _assistant_masked(self, messages: list[dict[str, Any]], r: Rendered) -> str | None:
        replies = [m for m in messages if m["role"] == "assistant"]
        if len(r.assistant_spans) != len(replies):
            return f"{len(r.assistant_spans)} trained spans for {len(replies)} assistant turns"
        for i, ((start, end), reply) in enumerate(zip(r.assistant_spans, replies)):
            if start >= end or self._find(r.text, text_of(reply["content"]), start, end) < 0:
                return f"assistant turn {i + 1}: its content is not inside its trained span {r.text[start:end]!r}"
        return None

    def _end_of_turn_masked(self, messages: list[dict[str, Any]], r: Rendered) -> str | None:
        for i, (start, end) in enumerate(r.assistant_spans):
            eot, at = end_marker(r.text, self.spec.end_markers, start)
            if at < 0 or at + len(eot) > end:
                return f"assistant turn {i + 1}: the end-of-turn {eot!r} is not inside the trained span " \
                       f"{r.text[start:end]!r}"
        return None

    def _single_bos(self, messages: list[dict[str, Any]], r: Rendered) -> str | None:
        bos = self.spec.bos_token
        return f"the text starts with {bos!r} twice" if bos and r.text.startswith(bos * 2) else None

    def _prefix_stable(self, messages: list[dict[str, Any]], r: Rendered) -> str | None:
        for k in range(1, len(messages)):
            if messages[k - 1]["role"] != "assistant":
                continue
            head = self._render(messages[:k])
            if head is not None and not r.text.startswith(head.text):
                at = first_difference(head.text, r.text)
                return f"the first {k} messages render differently once more follow (character {at}: " \
                       f"{head.text[at:at + 20]!r} becomes {r.text[at:at + 20]!r}): history is rewritten"
        return None

    def _generation_prompt(self, messages: list[dict[str, Any]], r: Rendered) -> str | None:
        replies = [i for i, m in enumerate(messages) if m["role"] == "assistant"]
        for i, (start, end) in zip(replies, r.assistant_spans):
            prompt = self._render(messages[:i], prompt=True)
            at = self._find(r.text, text_of(messages[i]["content"]), start, end)
            if prompt is None or at < 0:
                continue  # a reply not inside its span is assistant-masked's failure
            before = r.text[:at]
            # SentencePiece templates put a space between the prompt and the reply; the model
            # produces it as part of the reply's first token.
            if before != prompt.text and before != prompt.text + " ":
                return f"before the reply at message {i}: the generation prompt ends {prompt.text[-30:]!r}, " \
                       f"the text before the reply ends {before[-30:]!r}"
        return None


def check(template: ChatTemplate, tokenizer: Any = None, *, examples: int = 200,
          properties: tuple[str, ...] = PROPERTIES,
          on_outcome: Callable[[PropertyOutcome], None] | None = None) -> list[PropertyOutcome]:
    """Search each property for a counter-example; the shrunk one is reported when found.
    `on_outcome` sees each property's outcome as soon as it is known (the CLI prints it)."""
    from hypothesis import HealthCheck, find, settings
    from hypothesis.errors import NoSuchExample

    from templating.probes.capabilities import part_support
    from templating.probes.strategies import conversations

    contract = Contract(template, tokenizer)
    needs_parts = part_support(template).needs_parts  # (smolvlm, idefics3: each content as one text part)
    system = template.spec.supports_system
    outcomes = []
    for name in properties:
        tested = [0]

        def breaks(messages: list[dict[str, Any]], name: str = name, tested: list[int] = tested) -> bool:
            if contract._render(messages) is not None:
                tested[0] += 1
            return contract.violation(name, messages) is not None

        strategy = conversations(system=None if system else False).map(lambda ms: as_parts(ms, needs_parts))
        try:
            found = find(strategy, breaks, settings=settings(max_examples=examples, database=None, deadline=None,
                                                             suppress_health_check=list(HealthCheck)))
        except NoSuchExample:
            if contract.broken is not None:
                raise contract.broken
            detail = "" if tested[0] else \
                f"the template refused every generated conversation (the last with: {contract.refusal})"
            outcome = PropertyOutcome(name, tested[0] > 0, tested[0], detail=detail)
        else:
            outcome = PropertyOutcome(name, False, tested[0], found, contract.violation(name, found) or "")
        outcomes.append(outcome)
        if on_outcome is not None:
            on_outcome(outcome)
    return outcomes


def check_target(target: str, *, tokenizer: str | None = None, end_of_turn: str | None = None,
                 bos: str | None = None) -> tuple[ChatTemplate, Any]:
    """(template, tokenizer or None) that `templates check` checks: `target` is a registry name,
    a Jinja file (its end-of-turn marker and BOS from the arguments, else from `tokenizer`), or a
    model or tokenizer (folder, .gguf, hub id) whose own chat template is checked."""
    from pathlib import Path

    from templating.embedded import load_tokenizer
    from templating.registry import get_template, resolve, template_of_tokenizer
    from validation.errors import InputError

    loaded = load_tokenizer(tokenizer) if tokenizer else None
    try:
        resolve(target)
    except KeyError:
        pass
    else:
        return get_template(target), loaded
    path = Path(target)
    if path.is_file() and path.suffix != ".gguf":
        from templating.resolve import template_file

        return template_file(path, loaded, end_of_turn, bos, ways="name its end-of-turn marker with --end-of-turn "
                             "(or give --tokenizer)"), loaded
    model = load_tokenizer(target)
    try:
        return template_of_tokenizer(model, target), loaded or model
    except (KeyError, TemplateError) as exc:
        raise InputError(f"{target}: {exc.args[0]}") from None


