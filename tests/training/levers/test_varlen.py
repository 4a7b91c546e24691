"""training/levers/varlen.py: per-row attention for padding-free batches gives the numbers of each row
alone (and of transformers' own masked sdpa), forward and backward, and falls back to sdpa
wherever the batch is not one row of whole sequences."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")


def _model(attention):
    from transformers import LlamaConfig, LlamaForCausalLM

    from training.levers.varlen import register

    register()
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=100, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2)
    return LlamaForCausalLM._from_config(config, attn_implementation=attention)


def test_a_packed_row_s_logits_and_gradients_equal_those_of_each_row_alone():
    varlen, reference = _model("varlen_sdpa"), _model("sdpa")
    reference.load_state_dict(varlen.state_dict())
    rows = [torch.randint(0, 100, (1, n)) for n in (7, 1, 5)]
    packed = torch.cat(rows, 1)
    positions = torch.tensor([[p for r in rows for p in range(r.shape[1])]])
    out = varlen(packed, position_ids=positions, labels=packed, use_cache=False)
    expected = reference(packed, position_ids=positions, labels=packed, use_cache=False)  # the block mask
    assert torch.allclose(out.logits, expected.logits, atol=1e-5)
    at = 0
    for row in rows:
        alone = reference(row, use_cache=False).logits[0]
        assert torch.allclose(out.logits[0, at:at + row.shape[1]], alone, atol=1e-5)
        at += row.shape[1]
    out.loss.backward()
    expected.loss.backward()
    for (name, a), b in zip(varlen.named_parameters(), reference.parameters()):
        assert torch.allclose(a.grad, b.grad, atol=1e-5), name


def test_padded_batches_and_generation_fall_back_to_sdpa():
    varlen, reference = _model("varlen_sdpa"), _model("sdpa")
    reference.load_state_dict(varlen.state_dict())
    ids = torch.randint(3, 100, (2, 6))
    mask = torch.tensor([[0, 0, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1]])
    with torch.no_grad():
        assert torch.allclose(varlen(ids, attention_mask=mask).logits, reference(ids, attention_mask=mask).logits,
                              atol=1e-5)
        kwargs = {"max_new_tokens": 5, "do_sample": False, "pad_token_id": 0}
        assert torch.equal(varlen.generate(ids, attention_mask=mask, **kwargs),
                           reference.generate(ids, attention_mask=mask, **kwargs))


def test_a_saved_model_does_not_name_the_attention_it_trained_with(tmp_path):
    import json

    _model("varlen_sdpa").save_pretrained(tmp_path)
    assert "varlen" not in json.dumps(json.loads((tmp_path / "config.json").read_text()))
