"""Supervised fine-tuning with TRL's SFTTrainer, gated by validation.

Example:
    >>> from training import load_config, run                      # doctest: +SKIP
    >>> run(load_config("examples/everyday_conversations.yaml"))   # doctest: +SKIP

torch, transformers and trl load only when a function that needs them is called.
"""

from __future__ import annotations

from typing import Any

from training.config import ConfigError, TrainConfig, load_config

__all__ = ["ConfigError", "TrainConfig", "audit", "load_config", "run", "setup_chat_format"]


def __getattr__(name: str) -> Any:
    if name == "audit":  # the supervision audit `train` gates on (templating's; imported when asked for)
        from templating.supervision.dataset import audit

        return audit
    if name == "run":
        from training.pipeline import run

        return run
    if name == "setup_chat_format":
        from training.models import setup_chat_format

        return setup_chat_format
    raise AttributeError(f"module 'training' has no attribute {name!r}")
