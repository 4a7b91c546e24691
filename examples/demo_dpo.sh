#!/usr/bin/env bash
# Preference data on the bundled example: validate pairs ► broken pairs ► convert between the forms ► DPO on
# SmolLM2-135M-Instruct (reward margin and accuracy rise) ► ask.
set -euo pipefail
cd "$(dirname "$0")/.."
ik=.venv/bin/instructkit
mkdir -p out/demo
export TRANSFORMERS_VERBOSITY=error TOKENIZERS_PARALLELISM=false
echo "== 1. validate the preference example (prompt / chosen / rejected message lists)"
$ik validate examples/preferences.jsonl --template smollm2
echo
echo "== 2. broken pairs: a rejected reply given role user, chosen == rejected (exit 1 is expected)"
$ik validate tests/data/broken/completion-not-assistant.jsonl || echo "(exit $?)"
$ik validate tests/data/broken/identical-pair.jsonl || echo "(exit $?)"
echo
echo "== 3. the same pairs as HH-RLHF transcripts, and as KTO's labelled replies"
$ik convert examples/preferences.jsonl -o out/demo/preferences.hh.jsonl --to hh-text
$ik convert examples/preferences.jsonl -o out/demo/preferences.kto.jsonl --to unpaired
head -c 300 out/demo/preferences.hh.jsonl; echo
echo
echo "== 4. DPO on CPU: the reward margin and the share of pairs rewarded right rise"
$ik train examples/preferences.yaml
echo
echo "== 5. the trained model answers"
$ik generate out/dpo "How do I boil an egg?" --max-new-tokens 40
