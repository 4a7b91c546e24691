#!/usr/bin/env bash
# Images in chat data: validate ► which templates take them ► convert for SmolVLM ► render ► the audit. No model is
# trained here: vision weights (SmolVLM, Qwen2.5-VL) come from the hub, which is offline (docs/training.md).
set -euo pipefail
cd "$(dirname "$0")/.."
ik=.venv/bin/instructkit
mkdir -p out/demo
export TRANSFORMERS_VERBOSITY=error TOKENIZERS_PARALLELISM=false
echo "== 1. validate the vision example: 29 rows in three image layouts, every image's header read"
$ik validate examples/vision.jsonl
echo
echo "== 2. what each template does with content parts (probed from its text, role by role)"
$ik templates --json | .venv/bin/python -c "import json, sys
for t in json.load(sys.stdin):
    p = t['content_parts']
    print(f\"{t['name']:24} {', '.join(p['roles']) or '-':24} {', '.join(p['images']) or '-'}\")"
echo
echo "== 3. under a text template the image rows cannot be rendered (exit 1 is expected)"
$ik validate examples/vision.jsonl --template smollm2 --max-issues 3 || echo "(exit $?)"
echo
echo "== 4. under qwen3.5 each image is its placeholder; the processor expands it into image tokens"
$ik render examples/vision.jsonl --template qwen3.5 --show-spans --row 2
echo
echo "== 5. for SmolVLM: every image as an image part (--image-layout hf), then the strings wrapped as parts (--fix)"
cp -r examples/vision_images out/demo/  # (relative image paths: the converted files lie beside the pictures)
$ik convert examples/vision.jsonl --to messages --image-layout hf -o out/demo/vision_hf.jsonl
$ik validate out/demo/vision_hf.jsonl --template smolvlm --fix --write-clean out/demo/vision_smolvlm.jsonl \
    --max-issues 2
$ik render out/demo/vision_smolvlm.jsonl --template smolvlm --show-spans --row 3
echo
echo "== 6. a broken image: named, with its row and path (exit 1 is expected)"
$ik validate tests/data/broken/image-unreadable.jsonl || echo "(exit $?)"
echo
echo "== 7. with a text model (SmolLM2) image rows are left out (vision-not-supported; exit 1 expected);"
echo "   a vision-language model folder trains them (docs/training.md, vision-language models)"
$ik audit examples/vision.jsonl --template qwen3.5 --model HuggingFaceTB/SmolLM2-135M-Instruct --json \
    > out/demo/vision_audit.json || echo "(exit $?)"
.venv/bin/python -c "import collections, json
report = json.load(open('out/demo/vision_audit.json'))
print(f\"{report['rows']} rows: {report['valid']} train, {report['invalid']} left out\")
for code, n in collections.Counter(i['code'] for i in report['issues']).most_common():
    print(f'  {code}: {n}')"
