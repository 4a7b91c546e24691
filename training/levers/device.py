"""What the machine can do, detected (never assumed), and the training defaults that follow.

`detect_device()` reads the device once: CUDA or CPU, its name, native bf16 (a CUDA GPU that supports
it; a CPU with AMX-BF16 or AVX512-BF16 — emulated bf16 on other CPUs is slower than fp32,
bench/train.py), and on CUDA whether FlashAttention and Liger kernels are installed.
`sft_defaults(device, ...)` turns that into SFTConfig defaults as a pure function, so the GPU
choices are tested on a CPU-only machine (tests/training/levers/test_device.py):

| | CPU | CUDA |
|---|---|---|
| precision | bf16 only where native, else fp32 | bf16 where supported, else fp32 (fp16 is not chosen) |
| padding-free rows | yes (no compute on padding; sdpa keeps rows apart) | yes, with FlashAttention varlen kernels when installed, else sdpa |
| attention | `varlen_sdpa` for padding-free rows (training/levers/varlen.py), else sdpa | `flash_attention_2` when `flash_attn` is installed, else as on CPU |
| Liger kernels | no (Triton needs a GPU) | when `liger_kernel` is installed |
| activation checkpointing | off (memory is not the limit; it costs time) | on |
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Device:
    kind: str  # "cuda" or "cpu"
    name: str  # the GPU's or the CPU's model name
    native_bf16: bool
    flash_attention: bool = False  # flash_attn importable (CUDA only)
    liger: bool = False  # liger_kernel importable (CUDA only)

    def describe(self) -> str:
        """One line for logs and benchmark tables: what ran, and whether bf16 is native."""
        return f"{self.kind}: {self.name}, bf16 {'native' if self.native_bf16 else 'not native'}"


def detect_device() -> Device:
    import torch

    if torch.cuda.is_available():
        return Device("cuda", torch.cuda.get_device_name(0), bool(torch.cuda.is_bf16_supported()),
                      flash_attention=_installed("flash_attn"), liger=_installed("liger_kernel"))
    return Device("cpu", cpu_name(), cpu_has_native_bf16())


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


@cache
def cpu_flags() -> str:
    """/proc/cpuinfo (its flags and model name), read once; empty where there is none."""
    try:
        return Path("/proc/cpuinfo").read_text()
    except OSError:
        return ""


def cpu_has_native_bf16() -> bool:
    """AMX-BF16 or AVX512-BF16: bf16 matmuls beat fp32 on such a CPU (bench/train.py); emulated
    bf16 (oneDNN on older CPUs) does not, so the CPU flags decide where they can be read."""
    flags = cpu_flags()
    return "amx_bf16" in flags or "avx512_bf16" in flags


def cpu_name() -> str:
    import platform

    for line in cpu_flags().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def attention(device: Device, *, padding_free: bool, choice: str = "auto") -> str | None:
    """The attention implementation to load the model with (`choice` unless "auto"); None keeps
    transformers' default (sdpa). Padding-free rows without FlashAttention get `varlen_sdpa`."""
    if choice != "auto":
        name = choice
    elif device.kind == "cuda" and device.flash_attention:
        name = "flash_attention_2"
    elif padding_free:
        name = "varlen_sdpa"
    else:
        return None
    if name == "varlen_sdpa":
        from training.levers.varlen import register

        register()
    return name


def sft_defaults(device: Device, *, packing: bool, has_eval: bool) -> dict[str, Any]:
    """SFTConfig defaults for `device` (the config's `sft:` block overrides any of them)."""
    cuda = device.kind == "cuda"
    defaults: dict[str, Any] = {
        "per_device_train_batch_size": 4, "gradient_accumulation_steps": 1, "learning_rate": 5e-5,
        "num_train_epochs": 1, "logging_steps": 5, "save_strategy": "steps", "save_steps": 100,
        "save_total_limit": 2, "report_to": [], "bf16": device.native_bf16, "fp16": False, "use_cpu": not cuda,
        "activation_checkpointing": cuda, "dataloader_num_workers": 0, "disable_tqdm": False,
        # No compute on padding: rows are concatenated with positions restarting per row, which
        # keeps them apart under sdpa (tests/training/test_features.py) and FlashAttention's
        # varlen kernels. Packing chunks rows itself.
        "padding_free": not packing,
    }
    if cuda and device.liger:
        defaults["use_liger_kernel"] = True
    if has_eval:
        defaults.update(eval_strategy="steps", eval_steps=50, per_device_eval_batch_size=4)
    return defaults
