#!/usr/bin/env bash
# The main job on the bundled examples: validate ► convert ► render.
set -euo pipefail
cd "$(dirname "$0")/.."
ik=.venv/bin/instructkit
mkdir -p out/demo
echo "== validate the everyday-conversations example against the SmolLM2 template"
$ik validate examples/everyday_conversations.jsonl --template smollm2
echo
echo "== validate a deliberately broken file (exit 1 is expected)"
$ik validate tests/data/broken/special-token-in-content.jsonl --template chatml || echo "(exit $?)"
echo
echo "== convert the gsm8k-shaped example from qa to messages and to sharegpt"
$ik convert examples/math_qa.jsonl -o out/demo/math_messages.jsonl --to messages
$ik convert out/demo/math_messages.jsonl -o out/demo/math_sharegpt.jsonl --to sharegpt
head -c 300 out/demo/math_sharegpt.jsonl; echo
echo
echo "== render one conversation in SmolLM2's format, trained spans marked"
.venv/bin/python - <<'PY'
import json
from templating import get_template
row = json.loads(open("examples/everyday_conversations.jsonl").readline())
rendered = get_template("smollm2").render(row["messages"])
text, out, last = rendered.text, [], 0
for start, end in rendered.assistant_spans:
    out += [text[last:start], "[[", text[start:end], "]]"]
    last = end
print("".join(out + [text[last:]]))
PY
