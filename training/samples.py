"""Greedy generations before and after training, side by side, and "does it stop?": the share of
replies that end with a stop token before `max_new_tokens`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from templating import ChatTemplate
from validation.models import Conversation
from validation.checks.reasoning import CLOSE, OPEN, split_inline
from validation.outputs import write_file


@dataclass(frozen=True)
class Reply:
    text: str
    stopped: bool  # ended with a stop token before max_new_tokens
    opened: bool = False  # the generation prompt opened a think block (the reply starts inside it)

    def parts(self) -> tuple[str | None, str | None]:
        """(reasoning, answer): a think block apart from the answer; (None, text) without one;
        (reasoning, None) when the block never closes (the model stopped, or was cut, mid-thought).

        Example:
            >>> Reply("<think>\\nSix sevens.\\n</think>\\n\\n42", True).parts()
            ('Six sevens.', '42')
            >>> Reply("Six sevens, so", False, opened=True).parts()
            ('Six sevens, so', None)
        """
        reasoning, answer = split_inline(self.text)
        if reasoning is not None:
            return reasoning, answer
        if self.opened or OPEN in self.text:
            return self.text.split(OPEN)[-1].strip("\n"), None
        return None, self.text


def stop_ids(tokenizer: Any, template: ChatTemplate) -> list[int]:
    """Token ids that end a reply: EOS and the template's stop strings that are single tokens."""
    ids = {tokenizer.eos_token_id}
    for stop in template.spec.stops:
        token = tokenizer.convert_tokens_to_ids(stop)
        if isinstance(token, int) and token != tokenizer.unk_token_id:
            ids.add(token)
    return sorted(i for i in ids if i is not None)


def prompts_of(conversations: list[Any], tools: list[Any] | None = None) -> list[Any]:
    """Each conversation up to (not including) its last assistant turn: a held-out prompt, with
    the row's tools (`tools[i]`, when given) so that the model sees what it saw in training."""
    out = []
    for k, messages in enumerate(conversations):
        last = max((i for i, m in enumerate(messages) if m.role == "assistant"), default=0)
        row_tools = tools[k] if tools else None
        if last:
            prompt = [m.to_dict() for m in messages[:last]]
            out.append(Conversation.of(prompt, tools=row_tools) if row_tools else prompt)
    return out


def generate(model: Any, tokenizer: Any, template: ChatTemplate, prompts: list[Any], *, max_new_tokens: int = 64,
             tools: list[Any] | None = None) -> list[Reply]:
    """The model's greedy reply to each prompt (a user message, messages, or a `Conversation`
    with its tools), with the training template; `tools` go with the user-message prompts."""
    import torch

    from templating.registry import render_tokens

    replies = []
    model.eval()
    stops = stop_ids(tokenizer, template)
    prompt_text = template.spec.generation_prompt
    opened = OPEN in prompt_text and prompt_text.rfind(OPEN) > prompt_text.rfind(CLOSE)  # deepseek-r1-distill's
    for prompt in prompts:
        messages = [{"role": "user", "content": prompt}] if isinstance(prompt, str) else prompt
        if tools and isinstance(prompt, str):
            messages = Conversation.of(messages, tools=tools)
        ids = render_tokens(messages, tokenizer, template, add_generation_prompt=True).input_ids
        with torch.no_grad():
            output = model.generate(torch.tensor([ids], device=model.device), max_new_tokens=max_new_tokens,
                                    do_sample=False, eos_token_id=stops, pad_token_id=tokenizer.pad_token_id)
        new = output[0][len(ids):].tolist()
        stopped = bool(new) and new[-1] in stops
        replies.append(Reply(reply_text(tokenizer, new, stopped), stopped, opened))
    return replies


def complete(model: Any, tokenizer: Any, texts: list[str], *, max_new_tokens: int = 64) -> list[Reply]:
    """The model's greedy continuation of each text as it is, no chat template (a language model's
    completion: code after `def fibonacci(n):`), up to EOS or `max_new_tokens`. The tokenizer's
    BOS is put first where it adds one, as in training on text."""
    import torch

    model.eval()
    replies = []
    for text in texts:
        ids = tokenizer(text, add_special_tokens=True)["input_ids"]
        with torch.no_grad():
            output = model.generate(torch.tensor([ids], device=model.device), max_new_tokens=max_new_tokens,
                                    do_sample=False, eos_token_id=tokenizer.eos_token_id,
                                    pad_token_id=tokenizer.pad_token_id or tokenizer.eos_token_id)
        new = output[0][len(ids):].tolist()
        stopped = bool(new) and new[-1] == tokenizer.eos_token_id
        replies.append(Reply(reply_text(tokenizer, new, stopped, strip=False), stopped))
    return replies


def reply_text(tokenizer: Any, ids: list[int], stopped: bool, *, strip: bool = True) -> str:
    """The text of generated `ids`. A reply cut at `max_new_tokens` may end inside a character
    that byte-level tokens spell in pieces (a Hangul syllable is three bytes, an emoji four):
    the incomplete bytes decode as U+FFFD, and are left out instead of printed as `�`.

    Example:
        >>> from templating import load_tokenizer
        >>> tokenizer = load_tokenizer()
        >>> ids = tokenizer.encode("안녕", add_special_tokens=False)
        >>> tokenizer.decode(ids[:-1]), reply_text(tokenizer, ids[:-1], stopped=False)
        ('안�', '안')
    """
    text = tokenizer.decode(ids, skip_special_tokens=True)
    text = text if stopped else text.rstrip("\ufffd")
    return text.strip() if strip else text  # (a completion keeps its leading space or newline: it continues text)


def stop_rate(replies: list[Reply]) -> float | None:
    return round(sum(r.stopped for r in replies) / len(replies), 4) if replies else None


def write_samples(path: Path, prompts: list[str], before: list[Reply], after: list[Reply],
                  stops: dict[str, dict[str, Any]]) -> str:
    """samples.md: the stop rates, then one section per prompt with the reply before and after."""
    parts = ["# Samples before and after training", "", "Greedy decoding, the model's stop tokens.", "",
             "## Does it stop?", "", "Share of replies that end with a stop token before max_new_tokens.", "",
             "| prompts | n | before | after |", "|---|---|---|---|"]
    parts += [f"| {name} | {s['n']} | {_rate(s['before'])} | {_rate(s['after'])} |" for name, s in stops.items()
              if s["n"]]
    parts.append("")
    for prompt, old, new in zip(prompts, before, after):
        parts += [f"## {prompt}", "", "**before**", "", _quote(old), "", "**after**", "", _quote(new), ""]
    text = "\n".join(parts)
    write_file(path, text)
    return text


def _rate(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


def _quote(reply: Reply) -> str:
    reasoning, answer = reply.parts()
    if reasoning is None:
        body = _lines(reply.text)
    else:  # reasoning apart from the answer
        body = "> *reasoning*\n>\n" + _lines(reasoning) + "\n>\n> *answer*\n>\n" + \
            (_lines(answer) if answer is not None else "> (none: the think block never closes)")
    return body if reply.stopped else body + "\n>\n> *(did not stop)*"


def _lines(text: str) -> str:
    return "\n".join(f"> {line}" for line in (text or "(empty)").splitlines()) or "> (empty)"


def show(reply: Reply) -> str:
    """A reply for the terminal: its reasoning and its answer apart when it has a think block."""
    reasoning, answer = reply.parts()
    if reasoning is None:
        return reply.text
    return f"reasoning:\n{reasoning}\n\nanswer:\n{answer if answer is not None else '(none: the think block never closes)'}"
