"""A tiny random Llama with the real SmolLM2 tokenizer, saved as a local model folder."""

from __future__ import annotations

import json

import pytest


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory, smollm2_tokenizer):
    from transformers import LlamaConfig, LlamaForCausalLM

    folder = tmp_path_factory.mktemp("tiny-llama")
    config = LlamaConfig(vocab_size=len(smollm2_tokenizer), hidden_size=64, intermediate_size=128,
                         num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                         max_position_embeddings=512, bos_token_id=1, eos_token_id=2, pad_token_id=2,
                         tie_word_embeddings=True)
    import torch

    torch.manual_seed(0)
    LlamaForCausalLM(config).save_pretrained(folder)
    smollm2_tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture
def tiny_dataset(tmp_path):
    rows = [{"messages": [{"role": "user", "content": f"What is {i} plus {i}?"},
                          {"role": "assistant", "content": f"{i} plus {i} is {2 * i}."}]} for i in range(8)]
    path = tmp_path / "tiny.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def write_config(tmp_path, **values) -> str:
    import yaml

    path = tmp_path / "train.yaml"
    path.write_text(yaml.safe_dump(values))
    return str(path)


@pytest.fixture
def dry_run_reports(tmp_path, monkeypatch):
    """The folder a dry run's reports are kept in for the test to read (a dry run writes nothing in
    output_dir; its reports go to a temporary folder that is removed)."""
    import contextlib

    import training.pipeline

    kept = tmp_path / "dry-run-reports"
    kept.mkdir()
    monkeypatch.setattr(training.pipeline, "dry_run_folder", lambda: contextlib.nullcontext(str(kept)))
    return kept
