"""What training supervises, with the real tokenizer and template: `conversations` (each
conversation's ids, assistant mask and findings: masks, end-of-turn, truncation, BOS, forged
special tokens) and `pairs` (preference pairs as DPO and KTO compare them)."""
