"""What DPO and KTO compare, measured with the real tokenizer and template: each pair's prompt
tokens and reply tokens as TRL cuts them, and what goes wrong on the way — tokens that merge
across the prompt/reply boundary, a doubled BOS, a reply without its end-of-turn token, a prompt
that fills `max_length` alone, replies truncation cuts, and replies that truncation leaves identical.

`pair_tokens` is also what `training.preference.prepare` hands the trainer, so what is audited is
what is trained.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from templating.tokens import fast_backend
from validation.models import Preference, Unpaired, as_dicts
from templating.supervision.conversations import RowAudit
from validation.checks.rules import Finding

if TYPE_CHECKING:
    from templating.registry import ChatTemplate


@dataclass(frozen=True)
class PairTokens:
    """One row's tokens: the prompt alone (rendered with its generation prompt), each prompt +
    reply rendered whole, and `start`, where the replies begin: the first token at which the
    prompt and every prompt + reply part (TRL's rule, `common_prefix_length`)."""

    prompt: list[int]
    full: list[list[int]]
    start: int

    @property
    def prompt_ids(self) -> list[int]:
        return self.prompt[:self.start]

    def reply_ids(self, k: int) -> list[int]:
        return self.full[k][self.start:]

    def cut_prompt(self, keep: int) -> PairTokens:
        """The same row with only the last `keep` tokens of its prompt (`max_prompt_length`)."""
        if self.start <= keep:
            return self
        drop = self.start - keep
        return PairTokens(self.prompt[drop:], [f[drop:] for f in self.full], keep)


def _common(a: list[int], b: list[int]) -> int:
    if b[:len(a)] == a:  # the usual case, compared at C speed
        return len(a)
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


def cut_tokens(backend: Any) -> tuple[str, ...]:
    """Special tokens after which a text can be cut and its two sides tokenized apart with the
    same result: the tokenizer finds added tokens before anything else, and with no normalizer
    and a byte-level pre-tokenizer that adds no prefix space, what follows one is tokenized on its
    own. Empty for other tokenizers (SentencePiece's prefix space, normalizers): texts are then
    tokenized whole."""
    import json

    setup = json.loads(backend.to_str())
    pre = setup.get("pre_tokenizer") or {}
    steps = pre.get("pretokenizers", [pre]) if pre.get("type") == "Sequence" else [pre]
    if setup.get("normalizer") is not None or not steps or any(
            step.get("type") not in ("ByteLevel", "Split", "Digits") or step.get("add_prefix_space") for step in steps):
        return ()
    return tuple(t.content for t in backend.get_added_tokens_decoder().values()
                 if t.special and t.content and not (t.lstrip or t.rstrip or t.single_word or t.normalized))


def _cut(texts: list[str], tokens: tuple[str, ...]) -> int:
    """Where all `texts` (a prompt, then each prompt + reply) can be cut alike: just after the last
    special token of the first text that they all share as a prefix; 0 when there is none."""
    first = texts[0]
    for at in sorted({first.rfind(t) + len(t) for t in tokens if t in first}, reverse=True):
        head = first[:at]
        if all(text.startswith(head) for text in texts[1:]):
            return at
    return 0


def replies_of(row: Preference | Unpaired) -> list[list[Any]]:
    return [row.chosen, row.rejected] if isinstance(row, Preference) else [row.completion]


def pair_tokens(rows: Sequence[Preference | Unpaired], tokenizer: Any, template: ChatTemplate) -> list[PairTokens]:
    """Each row rendered with `template` and tokenized in one batch (no special tokens added: the
    template writes its own)."""
    backend = fast_backend(tokenizer)
    tokens = cut_tokens(backend)
    pieces: list[str] = []  # per row: the shared head (cut after a special token), then each text's tail
    for r in rows:
        texts = [template.render(as_dicts(r.prompt), add_generation_prompt=True).text]
        texts += [template.render(as_dicts(r.prompt + reply)).text for reply in replies_of(r)]
        cut = _cut(texts, tokens) if tokens else 0
        pieces += [texts[0][:cut], *(text[cut:] for text in texts)]  # the prompt is tokenized once
    encoded = [e.ids for e in backend.encode_batch(pieces, add_special_tokens=False)]
    out, at = [], 0
    for r in rows:
        width = 2 + len(replies_of(r))
        head, prompt, *full = encoded[at:at + width]
        at += width
        prompt, full = head + prompt, [head + f for f in full]
        out.append(PairTokens(prompt, full, min(_common(prompt, f) for f in full)))
    return out


def audit_pairs(rows: Sequence[Preference | Unpaired], tokenizer: Any, template: ChatTemplate,
                max_length: int | None = None, max_prompt_length: int | None = None) -> list[RowAudit]:
    """One `RowAudit` per row: `ids` the prompt then each reply, `mask` the reply tokens (what the
    loss compares), findings at the part they concern (`Finding.field`: prompt, chosen, rejected
    or completion); `dropped` when the prompt alone fills `max_length` (TRL leaves the row out).
    A prompt over `max_prompt_length` keeps its last tokens (`PairTokens.cut_prompt`)."""
    backend = fast_backend(tokenizer)
    bos = template.spec.bos_token
    bos_id = backend.token_to_id(bos) if bos else None
    eot = template.spec.end_of_turn
    eot_id = backend.token_to_id(eot) if eot else None  # None: not one token of this tokenizer (not checked)
    out = []
    for r, t in zip(rows, pair_tokens(rows, tokenizer, template)):
        names = ["chosen", "rejected"] if isinstance(r, Preference) else ["completion"]
        findings: list[Finding] = []
        if max_prompt_length is not None and t.start > max_prompt_length:
            findings.append(Finding(None, "prompt", "prompt-too-long",
                                    f"the prompt is {t.start} tokens, max_prompt_length {max_prompt_length}: training "
                                    f"keeps its last {max_prompt_length} (the first {t.start - max_prompt_length} are "
                                    "cut)"))
            t = t.cut_prompt(max_prompt_length)
        merged = len(t.prompt) - t.start
        if merged:
            findings.append(Finding(None, "prompt", "boundary-merge",
                                    f"the prompt's last {merged} token(s) ({backend.decode(t.prompt[t.start:])!r}) "
                                    "merge with the reply's first: training sees the prompt end differently from "
                                    "the one inference sends"))
        if bos_id is not None and t.full[0][:2] == [bos_id, bos_id]:
            findings.append(Finding(None, "prompt", "double-bos", f"the ids start with {bos!r} twice"))
        for k, name in enumerate(names):
            if eot_id is not None and eot_id not in t.reply_ids(k):
                findings.append(Finding(None, name, "end-of-turn-not-supervised",
                                        f"the end-of-turn {eot!r} is not among this reply's tokens: the model is not "
                                        "taught to prefer stopping there"))
        dropped = max_length is not None and t.start >= max_length
        if dropped:
            findings.append(Finding(None, "prompt", "prompt-fills-max-length",
                                    f"the prompt alone is {t.start} tokens, max_length {max_length}: no reply token "
                                    "is left, and TRL leaves the row out"))
        elif max_length is not None:
            room = max_length - t.start
            kept = [t.reply_ids(k)[:room] for k in range(len(names))]
            for k, name in enumerate(names):
                whole = len(t.reply_ids(k))
                if whole > room:
                    findings.append(Finding(None, name, "reply-truncated",
                                            f"truncation at {max_length} tokens keeps {room} of its {whole} tokens: "
                                            "its end and end of turn are not compared"))
            if len(kept) == 2 and kept[0] == kept[1]:
                findings.append(Finding(None, "rejected", "identical-after-truncation",
                                        f"cut at max_length {max_length}, chosen and rejected are the same tokens: the "
                                        "pair teaches nothing"))
        replies = [t.reply_ids(k) for k in range(len(names))]
        ids = t.prompt_ids + [i for reply in replies for i in reply]
        mask = [0] * t.start + [1] * (len(ids) - t.start)
        out.append(RowAudit(ids, mask, list(r.prompt + replies_of(r)[0]), findings, dropped, pair=(r, t)))
    return out
