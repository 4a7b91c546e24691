"""The device and its throughput levers: `device` (detect the CPU or GPU, precision and the
trainer defaults for it), `allocator` (keep freed memory on CPU), `varlen` (padding-free
attention), `batches` (token-budget batches)."""
