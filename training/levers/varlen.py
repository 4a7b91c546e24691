"""Per-row attention for padding-free batches without FlashAttention (the CPU, or a GPU without
`flash_attn`): `varlen_sdpa`.

A padding-free batch is one row of concatenated sequences whose positions restart at 0. Under
plain sdpa, transformers builds a block-diagonal causal mask over the whole batch, so every
layer computes attention scores for all T x T pairs of the batch (and materialises the mask),
though only the pairs inside one sequence count. `varlen_sdpa` cuts the batch where positions
restart and runs causal sdpa on each sequence: the same numbers (tests/training/levers/test_varlen.py),
attention cost of the sum of the squares of the lengths instead of the square of their sum —
FlashAttention's varlen kernels do the same on a GPU. Anything else (a batch with padding,
generation with a cache) goes to transformers' own sdpa.
"""

from __future__ import annotations

from typing import Any

NAME = "varlen_sdpa"


def varlen_sdpa(module: Any, query: Any, key: Any, value: Any, attention_mask: Any, dropout: float = 0.0,
                scaling: float | None = None, is_causal: bool | None = None, **kwargs: Any) -> tuple[Any, None]:
    """transformers' attention-function signature: query [B, H, T, D], key/value [B, Hkv, T, D];
    returns [B, T, H, D]."""
    import torch
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    positions = kwargs.get("position_ids")
    if positions is None or query.shape[0] != 1 or key.shape[2] != query.shape[2] or attention_mask is not None:
        return sdpa_attention_forward(module, query, key, value, attention_mask, dropout=dropout, scaling=scaling,
                                      is_causal=is_causal, **kwargs)
    length = query.shape[2]
    starts = (positions[0, :length] == 0).nonzero().flatten().tolist()
    if not starts or starts[0] != 0:
        starts = [0, *starts]
    bounds = [*starts, length]
    gqa = query.shape[1] != key.shape[1]
    parts = [torch.nn.functional.scaled_dot_product_attention(
        query[:, :, a:b], key[:, :, a:b], value[:, :, a:b], dropout_p=dropout if module.training else 0.0,
        is_causal=True, scale=scaling, enable_gqa=gqa) for a, b in zip(bounds, bounds[1:]) if b > a]
    return torch.cat(parts, dim=2).transpose(1, 2).contiguous(), None


def no_mask(*args: Any, **kwargs: Any) -> None:
    """No mask is built for `varlen_sdpa` when the batch is causal and unpadded (the sequences
    are cut by position); with a padding mask, transformers' sdpa mask is built as usual."""
    from transformers.masking_utils import sdpa_mask

    attention_mask = kwargs.get("attention_mask")
    if attention_mask is not None and not bool(attention_mask.all()):
        return sdpa_mask(*args, **kwargs)
    return None


def register() -> str:
    """Make `varlen_sdpa` an attention implementation transformers can load a model with; its name."""
    from transformers import AttentionInterface, AttentionMaskInterface

    AttentionInterface.register(NAME, varlen_sdpa)
    AttentionMaskInterface.register(NAME, no_mask)
    return NAME
