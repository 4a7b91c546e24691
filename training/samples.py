"""Greedy generations on fixed prompts, before and after training, side by side."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from templating import ChatTemplate


def stop_ids(tokenizer: Any, template: ChatTemplate) -> list[int]:
    """Token ids that end a reply: EOS and the template's stop strings that are single tokens."""
    ids = {tokenizer.eos_token_id}
    for stop in template.spec.stops:
        token = tokenizer.convert_tokens_to_ids(stop)
        if isinstance(token, int) and token != tokenizer.unk_token_id:
            ids.add(token)
    return sorted(i for i in ids if i is not None)


def generate(model: Any, tokenizer: Any, template: ChatTemplate, prompts: list[str], *,
             max_new_tokens: int = 64) -> list[str]:
    """The model's greedy reply to each prompt, rendered with the training template."""
    import torch

    from templating.tokens import render_tokens

    replies = []
    model.eval()
    stops = stop_ids(tokenizer, template)
    for prompt in prompts:
        ids = render_tokens([{"role": "user", "content": prompt}], tokenizer, template,
                            add_generation_prompt=True).input_ids
        with torch.no_grad():
            output = model.generate(torch.tensor([ids], device=model.device), max_new_tokens=max_new_tokens,
                                    do_sample=False, eos_token_id=stops, pad_token_id=tokenizer.pad_token_id)
        replies.append(tokenizer.decode(output[0][len(ids):], skip_special_tokens=True).strip())
    return replies


def write_samples(path: Path, prompts: list[str], before: list[str], after: list[str]) -> str:
    """samples.md: one section per prompt with the reply before and after training."""
    parts = ["# Samples before and after training", "", "Greedy decoding, the model's stop tokens.", ""]
    for prompt, old, new in zip(prompts, before, after):
        parts += [f"## {prompt}", "", "**before**", "", _quote(old), "", "**after**", "", _quote(new), ""]
    text = "\n".join(parts)
    path.write_text(text, encoding="utf-8")
    return text


def _quote(text: str) -> str:
    return "\n".join(f"> {line}" for line in (text or "(empty)").splitlines()) or "> (empty)"
