"""Eval split, LoRA and resume on the tiny model (CPU, seconds each)."""

from __future__ import annotations

import json

import pytest

from training import load_config, run

pytest.importorskip("trl")
BASE = {"template": "smollm2", "max_length": 128}
SFT = {"learning_rate": 3e-3, "per_device_train_batch_size": 4, "logging_steps": 1, "disable_tqdm": True}


def losses(folder) -> dict[int, float]:
    history = json.loads((folder / "metrics.json").read_text())["log_history"]
    return {h["step"]: h["loss"] for h in history if "loss" in h}


def test_eval_ratio_holds_out_rows_and_reports_eval_loss(tiny_model, tiny_dataset, tmp_path):
    summary = run(load_config(model=str(tiny_model), dataset={"path": str(tiny_dataset)}, eval={"ratio": 0.25},
                              output_dir=str(tmp_path / "out"), **BASE,
                              sft={**SFT, "max_steps": 4, "eval_steps": 2, "save_strategy": "no"}))
    assert (summary.train_rows, summary.eval_rows) == (6, 2)
    assert summary.eval_loss is not None and summary.eval_loss > 0
    # "does it stop?" also runs on the held-out rows, before and after
    rates = json.loads((tmp_path / "out" / "metrics.json").read_text())["stop_rates"]["held-out eval rows"]
    assert rates["n"] == 2 and summary.stop_rate_before is not None and summary.stop_rate_after is not None


def test_lora_trains_only_the_adapter_and_the_adapter_reloads(tiny_model, tiny_dataset, tmp_path):
    import torch
    from peft import AutoPeftModelForCausalLM
    from transformers import AutoModelForCausalLM

    out = tmp_path / "lora"
    run(load_config(model=str(tiny_model), dataset={"path": str(tiny_dataset)}, output_dir=str(out),
                    lora={"r": 4, "alpha": 8, "target_modules": ["q_proj", "v_proj"]}, **BASE,
                    sft={**SFT, "max_steps": 3, "save_strategy": "no"}))
    assert (out / "adapter_config.json").is_file() and not (out / "model.safetensors").exists()
    tuned = AutoPeftModelForCausalLM.from_pretrained(out)
    base = AutoModelForCausalLM.from_pretrained(tiny_model)
    merged = dict(tuned.named_parameters())
    for name, weight in base.named_parameters():  # base weights untouched
        assert torch.equal(merged[f"base_model.model.{name}".replace(".weight", ".base_layer.weight")]
                           if f"base_model.model.{name}".replace(".weight", ".base_layer.weight") in merged
                           else merged[f"base_model.model.{name}"], weight)
    adapters = [w for n, w in merged.items() if "lora_B" in n]
    assert adapters and any(w.abs().sum() > 0 for w in adapters)  # lora_B starts at zero: it trained


def test_resume_continues_with_the_losses_of_an_uninterrupted_run(tiny_model, tiny_dataset, tmp_path):
    common = {"model": str(tiny_model), "dataset": {"path": str(tiny_dataset)}, **BASE}
    sft = {**SFT, "lr_scheduler_type": "constant", "save_strategy": "steps", "save_steps": 3}
    whole = tmp_path / "whole"
    run(load_config(output_dir=str(whole), **common, sft={**sft, "max_steps": 6}))
    parted = tmp_path / "parted"
    run(load_config(output_dir=str(parted), **common, sft={**sft, "max_steps": 3}))
    state = parted / "checkpoint-3" / "trainer_state.json"
    saved = json.loads(state.read_text())
    saved["log_history"][0]["marker"] = "from checkpoint-3"  # proves the resumed run read this checkpoint
    state.write_text(json.dumps(saved))
    run(load_config(output_dir=str(parted), resume=True, **common, sft={**sft, "max_steps": 6}))
    history = json.loads((parted / "metrics.json").read_text())["log_history"]
    assert history[0].get("marker") == "from checkpoint-3"
    resumed, uninterrupted = losses(parted), losses(whole)
    assert [round(resumed[s], 4) for s in (4, 5, 6)] == [round(uninterrupted[s], 4) for s in (4, 5, 6)]


def test_push_to_hub_offline_is_one_clear_line_and_the_model_stays_saved(cli, tiny_model, tiny_dataset, tmp_path,
                                                                          monkeypatch):
    from tests.training.conftest import write_config

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    out = tmp_path / "out"
    config = write_config(tmp_path, model=str(tiny_model), dataset={"path": str(tiny_dataset)}, output_dir=str(out),
                          **BASE, sft={**SFT, "max_steps": 1, "save_strategy": "no", "push_to_hub": True,
                                       "hub_model_id": "someone/tiny"})
    result = cli("train", config)
    assert result.code == 1
    assert "push_to_hub: the model is saved in" in result.out and "could not be pushed" in result.out
    assert (out / "model.safetensors").is_file()


def test_padding_free_batches_reach_the_model_with_use_cache_off(tiny_model, tiny_dataset, tmp_path, monkeypatch):
    """Padding-free rows are only isolated per sequence when the KV cache is off (TRL sets it)."""
    import trl

    seen = []
    compute_loss = trl.SFTTrainer.compute_loss

    def spy(self, model, inputs, *args, **kwargs):
        result = compute_loss(self, model, inputs, *args, **kwargs)
        if model.training:  # TRL sets its forward arguments on `inputs` itself: read them after the call
            seen.append((inputs.get("use_cache"), inputs.get("position_ids") is not None,
                         "attention_mask" in inputs, tuple(inputs["input_ids"].shape)))
        return result

    monkeypatch.setattr(trl.SFTTrainer, "compute_loss", spy)
    run(load_config(model=str(tiny_model), dataset={"path": str(tiny_dataset)}, output_dir=str(tmp_path / "pf"),
                    **BASE, sft={**SFT, "max_steps": 2, "save_strategy": "no", "padding_free": True}))
    assert len(seen) == 2
    for use_cache, has_positions, has_mask, shape in seen:
        # one flattened row per batch, positions restarting per sequence, no attention mask, no cache
        assert (use_cache, has_positions, has_mask, shape[0]) == (False, True, False, 1)


def test_padding_free_rows_see_only_themselves_under_sdpa():
    """What makes padding-free the CPU default safe: with positions restarting per row and the KV
    cache off, a packed row's logits equal the row's own logits (transformers splits the mask)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(vocab_size=100, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                                         num_attention_heads=4, num_key_value_heads=2))
    assert model.config._attn_implementation == "sdpa"
    a, b = torch.randint(0, 100, (1, 7)), torch.randint(0, 100, (1, 5))
    positions = torch.tensor([list(range(7)) + list(range(5))])
    with torch.no_grad():
        packed = model(torch.cat([a, b], 1), position_ids=positions, use_cache=False).logits[0]
        assert torch.allclose(packed[:7], model(a).logits[0], atol=1e-5)
        assert torch.allclose(packed[7:], model(b).logits[0], atol=1e-5)


def test_cpu_training_defaults_to_padding_free_unless_packing(tmp_path):
    from training.steps import trainer_args

    def args(**values):
        return trainer_args(load_config(dataset={"path": "d.jsonl"}, **values), tmp_path, has_eval=False)[0]

    assert args().padding_free is True and args().max_length is None  # rows are truncated in prepare
    assert args(packing=True).padding_free is False
    assert args(sft={"padding_free": False}).padding_free is False
    assert args().activation_checkpointing is False  # CPU: memory is not the limit, time is
    assert args(sft={"gradient_checkpointing": True}).activation_checkpointing is True
