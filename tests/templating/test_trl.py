"""TRL's assistant_only_loss refuses SmolLM2's stock template and trains with ours, masking
exactly the tokens `render_tokens` masks."""

from __future__ import annotations

import copy
import warnings

import pytest

from templating import get_template
from templating.registry import render_tokens

trl = pytest.importorskip("trl")
ROWS = [{"messages": [{"role": "user", "content": f"What is {i}+{i}?"},
                      {"role": "assistant", "content": f"It is {2 * i}."}]} for i in range(6)]


def make_trainer(tokenizer, tmp_path):
    from datasets import Dataset
    from transformers import LlamaConfig, LlamaForCausalLM

    model = LlamaForCausalLM(LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64,
                                         num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=1,
                                         max_position_embeddings=256))
    config = trl.SFTConfig(output_dir=str(tmp_path), max_steps=2, per_device_train_batch_size=2,
                           assistant_only_loss=True, report_to=[], bf16=False, use_cpu=True, save_strategy="no",
                           disable_tqdm=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return trl.SFTTrainer(model=model, args=config, train_dataset=Dataset.from_list(ROWS),
                              processing_class=tokenizer)


def test_trl_refuses_the_stock_smollm2_template(smollm2_tokenizer, tmp_path):
    with pytest.raises(ValueError, match="not training-compatible"):
        make_trainer(smollm2_tokenizer, tmp_path)


def test_trl_trains_with_our_template_and_masks_what_we_mask(smollm2_tokenizer, tmp_path):
    tokenizer = copy.copy(smollm2_tokenizer)
    tokenizer.chat_template = get_template("smollm2").jinja
    trainer = make_trainer(tokenizer, tmp_path)
    for row, example in zip(ROWS, trainer.train_dataset):
        ours = render_tokens(row["messages"], smollm2_tokenizer, "smollm2")
        assert example["input_ids"] == ours.input_ids
        assert [int(label != -100) for label in example["labels"]] == ours.assistant_mask
    result = trainer.train()
    assert result.global_step == 2
