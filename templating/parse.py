"""Read rendered text back into messages, and tell which template a text or tokenizer uses.

`parse` reads the turn layouts of the built-ins (`TemplateSpec.turns`: ChatML family, qwen3,
deepseek-r1-distill, llama3, gemma, phi3, zephyr), so rendering and parsing share one description
of each format. Templates that trim content (llama3, gemma) give back the trimmed text; templates
with a default system prompt give it back as the first message; qwen3's think blocks come back as
`reasoning_content` (the text its training variant renders: every assistant turn opens with one).
"""

from __future__ import annotations

from typing import Any

from templating.environment import TemplateError, compile_template, render_with_spans
from templating.registry import ChatTemplate, get_template, list_templates
from templating.spans import first_difference
from templating.spec import TemplateSpec, TurnFormat
from validation.models import Message

PROBE = [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Hi there"},
         {"role": "assistant", "content": "Hello!"}, {"role": "user", "content": "Bye"},
         {"role": "assistant", "content": "Goodbye."}]
PROBE_NO_SYSTEM = PROBE[1:]
# When several formats parse a text, the one whose default system prompt it holds wins; then this order.
PRIORITY = ("smollm2", "qwen2.5", "qwen3", "chatml", "lfm2", "llama3", "gemma", "phi3", "zephyr", "deepseek-r1-distill")


def _headers(fmt: TurnFormat) -> list[tuple[str, str, str]]:
    """(role, header as it appears in text, footer); the assistant header includes qwen's span prefix."""
    return [("assistant", fmt.assistant[0] + fmt.span_prefix, fmt.assistant[1]),
            ("user", *fmt.user), ("system", *fmt.system)]


def _parsable() -> list[TemplateSpec]:
    """The registered templates with a turn layout `parse` can read back."""
    return [spec for spec in list_templates() if spec.turns is not None and spec.turns.parsable]


def parse(text: str, template: str) -> list[Message]:
    """The messages a text rendered with `template` holds; a trailing generation prompt is ignored.

    Raises:
        TemplateError: the template has no parser, or the text does not follow its format
            (the message gives the offset).

    Example:
        >>> parse("<|im_start|>user\\nHi<|im_end|>\\n<|im_start|>assistant\\nHello<|im_end|>\\n", "chatml")[1].content
        'Hello'
    """
    spec = get_template(template).spec
    name, fmt = spec.name, spec.turns
    if fmt is None or not fmt.parsable:
        names = ", ".join(sorted(s.name for s in _parsable()))
        raise TemplateError(f"cannot parse {name}: parsing is defined for {names}")
    bos = spec.bos_token if fmt.writes_bos else ""
    position = len(bos) if text.startswith(bos) else 0
    end = len(text)
    if fmt.final_eos and text.endswith(fmt.final_eos):
        end -= len(fmt.final_eos)
    if text.endswith(spec.generation_prompt) and spec.generation_prompt:
        end = min(end, len(text) - len(spec.generation_prompt))
    messages = []
    headers = [h for _, h, _ in _headers(fmt) if h]
    first = position
    while position < end:
        for role, header, footer in _headers(fmt):
            if not header and position != first:
                continue  # a turn without a header (deepseek-r1-distill's system prompt) only opens the text
            if text.startswith(header, position):
                if not footer:  # the turn runs to the next header (deepseek-r1-distill's user turns)
                    close = min([at for h in headers if (at := text.find(h, position + len(header))) >= 0] + [end])
                    if not header and close == end:
                        continue  # text and no turn at all
                else:
                    close = text.find(footer, position + len(header))
                if close < 0 or close + len(footer) > end:
                    raise TemplateError(f"{name}: no {footer!r} closes the {role} turn at offset {position}")
                content = text[position + len(header):close]
                if role == "assistant" and fmt.think is not None:
                    messages.append(_with_reasoning(name, fmt.think, content, position))
                else:
                    messages.append(Message(role=role, content=content))  # type: ignore[arg-type]
                position = close + len(footer)
                break
        else:
            raise TemplateError(f"{name}: no turn header at offset {position} ({text[position:position + 30]!r})")
    return messages


def _with_reasoning(name: str, think: tuple[str, str], content: str, position: int) -> Message:
    """The assistant message of a turn that opens with a think block: its text becomes
    `reasoning_content` (the field the template reads), absent when the block is empty."""
    opening, closing = think
    end = content.find(closing, len(opening))
    if not content.startswith(opening) or end < 0:
        raise TemplateError(f"{name}: the assistant turn at offset {position} does not open with a think block "
                            f"({content[:30]!r})")
    reasoning, answer = content[len(opening):end], content[end + len(closing):]
    if not reasoning:
        return Message(role="assistant", content=answer)
    return Message(role="assistant", content=answer, reasoning_content=reasoning)  # type: ignore[call-arg]


def detect_template(source: Any) -> str | None:
    """The registry template a rendered text or a tokenizer's `chat_template` uses, or None."""
    if isinstance(source, str):
        return _detect_text(source)
    template = getattr(source, "chat_template", None)
    if not template:
        return None
    for spec in list_templates():  # its official text, or the training variant `train` saves with a model
        chat = get_template(spec.name)
        if template.strip() in (chat.official_jinja.strip(), chat.jinja.strip()):
            return spec.name
    return _detect_text(render_tokenizer_template(source, PROBE))


def _detect_text(text: str) -> str | None:
    fits = []
    for name in PRIORITY:
        try:
            parse(text, name)
        except TemplateError:
            continue
        fits.append(name)
    if not fits:
        return None
    for name in fits:
        default = get_template(name).spec.default_system
        if default is not None and default in text:
            return name
    return next((name for name in fits if get_template(name).spec.default_system is None), fits[0])


def render_tokenizer_template(tokenizer: Any, messages: list[dict], add_generation_prompt: bool = False) -> str:
    """Render with a tokenizer's own chat template in our sandbox (its bos/eos tokens), no transformers call."""
    text, _ = render_with_spans(compile_template(tokenizer.chat_template), messages=messages,
                                add_generation_prompt=add_generation_prompt,
                                bos_token=getattr(tokenizer, "bos_token", "") or "",
                                eos_token=getattr(tokenizer, "eos_token", "") or "")
    return text


def compare_template(tokenizer: Any, template: str | ChatTemplate) -> str | None:
    """None when `template` renders like the tokenizer's own template on probe conversations,
    else a one-line warning naming the first difference (training and inference would differ)."""
    ours = template if isinstance(template, ChatTemplate) else get_template(template)
    if not getattr(tokenizer, "chat_template", None):
        return f"the tokenizer has no chat template; training with {ours.name} will install it"
    for probe in (PROBE if ours.spec.supports_system else PROBE_NO_SYSTEM, PROBE_NO_SYSTEM):
        for add_generation_prompt in (False, True):
            messages = probe[:-1] if add_generation_prompt else probe
            try:
                theirs = render_tokenizer_template(tokenizer, messages, add_generation_prompt)
            except TemplateError as exc:
                return f"the tokenizer's own template refuses a probe conversation: {exc}"
            mine = ours.render(messages, add_generation_prompt=add_generation_prompt).text
            if theirs != mine:
                at = first_difference(theirs, mine)
                return (f"template {ours.name} differs from the tokenizer's own template at character {at}: "
                        f"{mine[at:at + 25]!r} vs {theirs[at:at + 25]!r}; the model would see at inference "
                        "something other than what it was trained on")
    return None
