#!/usr/bin/env bash
# Tool calling on the bundled example: validate ► audit ► what is trained ► train SmolLM2-135M-Instruct ► ask.
set -euo pipefail
cd "$(dirname "$0")/.."
ik=.venv/bin/instructkit
mkdir -p out/demo
export TRANSFORMERS_VERBOSITY=error TOKENIZERS_PARALLELISM=false
echo "== 1. which templates render tools (probed from each template)"
$ik templates
echo
echo "== 2. validate the tool-calling example: calls against the declared tools' JSON Schemas, with qwen2.5"
$ik validate examples/tool_calls.jsonl --template qwen2.5
echo
echo "== 3. a deliberately broken call: the argument at its JSON pointer (exit 1 is expected)"
$ik validate tests/data/broken/arguments-mismatch.jsonl || echo "(exit $?)"
echo
echo "== 4. what training supervises: the calls, not the tool results"
$ik render examples/tool_calls.jsonl --template qwen2.5 --show-spans --row 1
$ik audit examples/tool_calls.jsonl --template qwen2.5 --model HuggingFaceTB/SmolLM2-135M-Instruct --max-length 1024
echo
echo "== 5. fine-tune SmolLM2-135M-Instruct on CPU to call the tools"
$ik train examples/tool_calls.yaml
echo
echo "== 6. the trained model, asked with the tools"
$ik generate out/tools "What's the weather like in Gwangju?" --tools examples/tools.json --max-new-tokens 60
