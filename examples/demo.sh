#!/usr/bin/env bash
# The main job on the bundled examples: validate ► audit ► stats ► train SmolLM2-135M-Instruct ► samples ► verify.
set -euo pipefail
cd "$(dirname "$0")/.."
ik=.venv/bin/instructkit
mkdir -p out/demo
export TRANSFORMERS_VERBOSITY=error TOKENIZERS_PARALLELISM=false
echo "== 1. validate the everyday-conversations example against the SmolLM2 template"
$ik validate examples/everyday_conversations.jsonl --template smollm2
echo
echo "== 2. a deliberately broken file: every defect with its row and path (exit 1 is expected)"
$ik validate tests/data/broken/special-token-in-content.jsonl --template chatml || echo "(exit $?)"
echo
echo "== 3. what training will supervise, with the real tokenizer and template"
$ik audit examples/everyday_conversations.jsonl --model HuggingFaceTB/SmolLM2-135M-Instruct --max-length 256
echo
echo "== 4. a deliberately broken template: the end-of-turn token is never trained (exit 1 is expected)"
$ik templates check tests/data/templates/no_eot_in_mask.jinja --tokenizer HuggingFaceTB/SmolLM2-135M-Instruct \
    --examples 50 || echo "(exit $?)"
echo
echo "== 5. statistics with the real tokenizer and template, and a picture"
$ik stats examples/everyday_conversations.jsonl --tokenizer HuggingFaceTB/SmolLM2-135M-Instruct \
    --template smollm2 --max-length 256 --plot out/demo/lengths.png
echo
echo "== 6. convert the gsm8k-shaped example from qa to messages"
$ik convert examples/math_qa.jsonl -o out/demo/math_messages.jsonl --to messages
echo
echo "== 7. fine-tune SmolLM2-135M-Instruct on CPU (before/after samples, falling loss)"
$ik train examples/everyday_conversations.yaml
echo
echo "== 8. the trained model answers"
$ik generate out/everyday "Can you suggest a quick breakfast?" --max-new-tokens 40
echo
echo "== 9. the saved tokenizer renders and stops as in training"
$ik verify out/everyday
