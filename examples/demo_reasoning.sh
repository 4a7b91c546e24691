#!/usr/bin/env bash
# Reasoning traces on the bundled example: validate ► what each template trains of reasoning ► stats ► train
# SmolLM2-135M-Instruct to think before it answers ► ask.
set -euo pipefail
cd "$(dirname "$0")/.."
ik=.venv/bin/instructkit
mkdir -p out/demo
export TRANSFORMERS_VERBOSITY=error TOKENIZERS_PARALLELISM=false
echo "== 1. which templates train reasoning, and how (probed from each template)"
COLUMNS=160 $ik templates
echo
echo "== 2. validate the reasoning example with qwen3, which prints reasoning_content and inline think blocks"
$ik validate examples/reasoning.jsonl --template qwen3
echo
echo "== 3. the same rows with chatml: it prints no reasoning field, so those traces would not be trained"
$ik validate examples/reasoning.jsonl --template chatml || echo "(exit $?)"
echo
echo "== 4. broken traces: an unclosed think block (exit 1 is expected), and a cut inside a think block"
$ik validate tests/data/broken/unclosed-think.jsonl || echo "(exit $?)"
$ik audit tests/data/broken/reasoning-truncated.jsonl --template qwen3 --model HuggingFaceTB/SmolLM2-135M-Instruct \
    --max-length 40 || echo "(exit $?)"
echo
echo "== 5. what training supervises: reasoning (magenta) and answer (green) of every turn"
$ik render examples/reasoning.jsonl --template qwen3 --show-spans --row 17
echo
echo "== 6. reasoning vs answer tokens"
$ik stats examples/reasoning.jsonl --tokenizer HuggingFaceTB/SmolLM2-135M-Instruct --template qwen3 --max-length 256
echo
echo "== 7. fine-tune SmolLM2-135M-Instruct on CPU to reason, then answer"
$ik train examples/reasoning.yaml
echo
echo "== 8. the trained model, asked a new problem"
$ik generate out/reasoning "One pack holds 9 pencils. How many pencils are in 4 packs?" --max-new-tokens 80
