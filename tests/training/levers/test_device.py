"""The device's training defaults: resolved from what is detected, tested here without a GPU."""

from __future__ import annotations

import pytest

from training.config import load_config
from training.levers.device import Device, attention, detect_device, sft_defaults
from training.steps import trainer_args

pytest.importorskip("trl")

CPU_BF16 = Device("cpu", "Intel Xeon (AMX)", native_bf16=True)
CPU = Device("cpu", "AMD EPYC (no AVX-512)", native_bf16=False)
H100 = Device("cuda", "NVIDIA H100", native_bf16=True, flash_attention=True, liger=True)
BARE_GPU = Device("cuda", "NVIDIA T4", native_bf16=False)


def resolved(device, tmp_path, **values):
    args, kind, precision = trainer_args(load_config(dataset={"path": "d.jsonl"}, cpu_allocator=False, **values),
                                       tmp_path, has_eval=False, device=device)
    return args, kind, precision


@pytest.mark.parametrize(("device", "bf16", "liger", "checkpointing", "use_cpu", "attn"), [
    (CPU, False, False, False, True, None),
    (CPU_BF16, True, False, False, True, None),
    (H100, True, True, True, False, "flash_attention_2"),
    (BARE_GPU, False, False, True, False, None),
])
def test_defaults_follow_the_device(device, bf16, liger, checkpointing, use_cpu, attn):
    defaults = sft_defaults(device, packing=False, has_eval=False)
    assert (defaults["bf16"], defaults.get("use_liger_kernel", False), defaults["activation_checkpointing"],
            defaults["use_cpu"], defaults["fp16"], defaults["padding_free"]) == \
        (bf16, liger, checkpointing, use_cpu, False, True)
    assert attention(device, padding_free=False) == attn
    assert attention(device, padding_free=True) == (attn or "varlen_sdpa")
    assert attention(device, padding_free=True, choice="eager") == "eager"


def test_packing_turns_padding_free_off_and_an_eval_split_adds_evaluation():
    defaults = sft_defaults(H100, packing=True, has_eval=True)
    assert (defaults["padding_free"], defaults["eval_strategy"], defaults["eval_steps"]) == (False, "steps", 50)


def test_the_config_resolves_cpu_defaults_into_an_sftconfig(tmp_path):
    args, kind, precision = resolved(CPU, tmp_path)
    assert (kind, precision, args.bf16, args.padding_free, args.use_cpu, args.max_length) == \
        ("cpu", "fp32", False, True, True, None)  # padding-free rows are truncated by prepare, not TRL


def test_the_sft_block_overrides_a_device_default(tmp_path):
    args, _, precision = resolved(CPU_BF16, tmp_path, sft={"bf16": False, "padding_free": False})
    assert (precision, args.bf16, args.padding_free, args.max_length) == ("fp32", False, False, 1024)


def test_this_machine_is_detected_not_assumed():
    device = detect_device()
    flags = open("/proc/cpuinfo").read() if device.kind == "cpu" else ""
    if device.kind == "cpu":
        assert device.native_bf16 == ("amx_bf16" in flags or "avx512_bf16" in flags)
        assert device.name and device.name in flags
    assert device.describe().startswith(f"{device.kind}: {device.name}, bf16 ")
