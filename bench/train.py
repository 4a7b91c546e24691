"""Training throughput against TRL's SFTTrainer, measured in one run on this machine.

Usage: python bench/train.py [--model tiny|smollm2] [--data mix|gsm8k] [--steps 12] [--rows 400]
                             [--fp32] [--device cpu|cuda] [--quick]
Data: `mix`, a long-tailed mix like real chat data (single-turn gsm8k-sized rows and multi-turn
conversations up to max_length 512), or `gsm8k`, the real rows of ../shared/data/gsm8k/test.jsonl
as messages (question -> user, answer -> assistant); the SmolLM2 tokenizer. Each training run is
a fresh subprocess, so one run's memory and threads do not colour the next. The first line says
which CPU or GPU ran and whether its bf16 is native; `--fp32` runs both sides in fp32, which is
what each does on a CPU without native bf16 (the figure for such CPUs, measured on any CPU).

1. effective (non-padding) tokens/s: `instructkit train` (our defaults) against `SFTTrainer`
   with TRL's default SFTConfig, and against the course notebook's setup (batch 4, lr 5e-5,
   TRL's defaults otherwise, `use_cpu`, bf16 only where native) (same model, data, steps);
2. wrapper overhead: `instructkit train` against `SFTTrainer` called directly with identical
   settings and data (best of two runs each);
3. data preparation: our audit + tokens + masks against TRL's own preparation of the same
   2,000 rows.
`--quick`: only (1) against the notebook setup, no lever runs, no overhead runs.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

WORDS = ("the model reads every row and learns to answer with care while the user asks about trains "
         "weather recipes code maths history music and small talk").split()
ROOT = Path(__file__).resolve().parent.parent
GSM8K = ROOT.parent / "shared" / "data" / "gsm8k" / "test.jsonl"
PREP_ROWS = 2000


def gsm8k_rows(n: int, offset: int = 0) -> list[dict]:
    """The first `n` real gsm8k rows after `offset`, as messages."""
    if not GSM8K.exists():
        raise SystemExit(f"--data gsm8k needs {GSM8K} (the ../shared folder)")
    lines = GSM8K.read_text(encoding="utf-8").splitlines()[offset:offset + n]
    return [{"messages": [{"role": "user", "content": row["question"]},
                          {"role": "assistant", "content": row["answer"]}]} for row in map(json.loads, lines)]


def rows(n: int, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        if rng.random() < 0.6:  # gsm8k-sized single turn
            turns = [(rng.randint(20, 60), rng.randint(40, 120))]
        else:  # multi-turn, long tail
            turns = [(rng.randint(5, 40), rng.randint(20, 150)) for _ in range(rng.randint(2, 5))]
        messages = []
        for q, a in turns:
            messages.append({"role": "user", "content": " ".join(rng.choices(WORDS, k=q))})
            messages.append({"role": "assistant", "content": " ".join(rng.choices(WORDS, k=a))})
        out.append({"messages": messages})
    return out


TRL_SCRIPT = """
import json, sys, time, warnings
warnings.filterwarnings("ignore")
from datasets import Dataset, load_from_disk
from transformers import AutoModelForCausalLM, AutoTokenizer
from trl import SFTConfig, SFTTrainer
model_dir, data, out, settings = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
if settings.pop("_allocator", False):
    from training.levers.allocator import keep_freed_memory
    keep_freed_memory()
attention = settings.pop("_attention", None)
if attention == "varlen_sdpa":
    from training.levers.varlen import register
    register()
tokenizer = AutoTokenizer.from_pretrained(model_dir)
model = AutoModelForCausalLM.from_pretrained(model_dir, **({"attn_implementation": attention} if attention else {}))
dataset = load_from_disk(data) if settings.pop("_tokenized", False) else Dataset.from_json(data)
trainer = SFTTrainer(model=model, args=SFTConfig(output_dir=out, report_to=[], disable_tqdm=True, **settings),
                     train_dataset=dataset, processing_class=tokenizer)
start = time.perf_counter()
trainer.train()
seconds = time.perf_counter() - start
tokens = max(float(h.get("num_tokens", 0)) for h in trainer.state.log_history)
print(json.dumps({"seconds": seconds, "tokens": tokens}))
"""


def run_trl(model_dir: Path, data: Path | str, out: Path, settings: dict) -> dict:
    done = subprocess.run([sys.executable, "-c", TRL_SCRIPT, str(model_dir), str(data), str(out),
                           json.dumps(settings)], capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(done.stderr[-3000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_ours(config: Path, overrides: list[str]) -> dict:
    cmd = [sys.executable, "-m", "instructkit", "train", str(config)] + [a for o in overrides for a in ("--set", o)]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, check=False)
    if done.returncode:
        raise SystemExit(done.stdout[-3000:] + done.stderr[-3000:])
    summary = json.loads((Path(yaml_value(config, "output_dir")) / "metrics.json").read_text())["summary"]
    return {"seconds": summary["seconds"], "tokens": summary["train_tokens"]}


def yaml_value(path: Path, key: str) -> str:
    import yaml

    return yaml.safe_load(path.read_text())[key]


def model_folder(kind: str, tmp: Path) -> Path:
    from templating.embedded import load_tokenizer
    from training.models import resolve_model

    if kind == "smollm2":
        return Path(resolve_model("HuggingFaceTB/SmolLM2-135M-Instruct")[0])
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = load_tokenizer()
    folder = tmp / "tiny"
    torch.manual_seed(0)
    LlamaForCausalLM(LlamaConfig(vocab_size=len(tokenizer), hidden_size=128, intermediate_size=256,
                                 num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                                 max_position_embeddings=1024, bos_token_id=1, eos_token_id=2,
                                 pad_token_id=2)).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", choices=("tiny", "smollm2"), default="tiny")
    parser.add_argument("--data", choices=("mix", "gsm8k"), default="mix")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--rows", type=int, default=400)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--fp32", action="store_true", help="both sides in fp32 (a CPU without native bf16)")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--quick", action="store_true", help="only ours vs the notebook setup")
    parser.add_argument("--try", dest="levers", action="append", default=[], metavar="KEY=VALUE",
                        help="a lever to measure: ours with this config override against ours without it "
                             "(repeatable; no baseline runs)")
    args = parser.parse_args()
    import yaml

    from training.levers.device import detect_device

    cpu = args.device == "cpu"
    if cpu:  # every run here and in the subprocesses sees the CPU only, even where a GPU is present
        os.environ["CUDA_VISIBLE_DEVICES"] = ""
    device = detect_device()
    if device.kind != args.device:
        raise SystemExit(f"--device {args.device}: no CUDA device here")
    native_bf16 = device.native_bf16 and not args.fp32
    print(f"{device.describe()}; this run: {'fp32 on both sides' if args.fp32 else 'bf16' if native_bf16 else 'fp32'}; "
          f"data {args.data}, {args.model}")
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        data = tmp / "chat.jsonl"
        train_rows = gsm8k_rows(args.rows) if args.data == "gsm8k" else rows(args.rows)
        data.write_text("".join(json.dumps(r) + "\n" for r in train_rows))
        folder = model_folder(args.model, tmp)
        common = {"max_steps": args.steps, "per_device_train_batch_size": args.batch, "max_length": 512,
                  "logging_steps": 1, "save_strategy": "no"}
        device_settings = {"use_cpu": cpu} | ({"bf16": False} if args.fp32 else {})
        config = tmp / "train.yaml"
        sft = {k: v for k, v in common.items() if k != "max_length"} | ({"bf16": False} if args.fp32 else {})
        config.write_text(yaml.safe_dump({"model": str(folder), "template": "smollm2", "dataset": {"path": str(data)},
                                          "max_length": 512, "output_dir": str(tmp / "ours"), "sft": sft}))
        ours = run_ours(config, [])
        if args.levers:
            base = ours["tokens"] / ours["seconds"]
            for lever in args.levers:
                tried = run_ours(config, [lever])
                rate = tried["tokens"] / tried["seconds"]
                print(f"lever {lever}: {rate / base:.2f}x ({base:,.0f} -> {rate:,.0f} tokens/s; first step and "
                      f"compilation included in {tried['seconds']:.0f} s vs {ours['seconds']:.0f} s)")
            return
        # The course notebook: batch 4, lr 5e-5, TRL's defaults otherwise, use_cpu, bf16 only where native.
        notebook = run_trl(folder, data, tmp / "notebook", {**common, "learning_rate": 5e-5, "use_cpu": cpu,
                                                              "bf16": native_bf16})
        rate = {k: v["tokens"] / v["seconds"] for k, v in (("ours", ours), ("notebook", notebook))}
        print(f"training ({args.model}, {args.data}, {args.steps} steps of {args.batch}): ours {rate['ours']:,.0f} "
              f"tokens/s; SFTTrainer as the notebook sets it up {rate['notebook']:,.0f} tokens/s; ratio "
              f"{rate['ours'] / rate['notebook']:.2f}x (target >= 1.5)")
        if args.quick:
            return
        _full(args, tmp, data, folder, common, config, ours, device_settings)


def _full(args: argparse.Namespace, tmp: Path, data: Path, folder: Path, common: dict, config: Path, ours: dict,
          device_settings: dict) -> None:
    """Levers, TRL's defaults, data preparation and the wrapper overhead."""
    # 3. data preparation
    from datasets import Dataset

    from templating import get_template
    from templating.embedded import load_tokenizer
    from templating.supervision.conversations import Auditor
    from training.prepare import tokenized_dataset
    from validation import read

    tokenizer = load_tokenizer()
    # Measured on PREP_ROWS rows (not the few training rows): a fraction of a second is mostly noise.
    prep_data = tmp / "prep.jsonl"
    # gsm8k has 1,319 rows: the preparation rows are the ones after the training rows
    prep_rows_of = gsm8k_rows(PREP_ROWS // 2, offset=args.rows) if args.data == "gsm8k" else \
        rows(PREP_ROWS, seed=1)
    prep_data.write_text("".join(json.dumps(r) + "\n" for r in prep_rows_of))
    conversations = list(read(prep_data))

    def ours_once() -> float:
        start = time.perf_counter()
        audits = Auditor(tokenizer, get_template("smollm2"), 512).audit(conversations)  # prepare audits too
        tokenized_dataset(audits, assistant_only_loss=True, max_length=512)
        return time.perf_counter() - start

    ours_once()  # warm-up: the first Dataset.from_dict pays datasets' lazy set-up
    ours_prep = min(ours_once() for _ in range(3))
    trl_tokenizer = load_tokenizer()
    trl_tokenizer.chat_template = get_template("smollm2").jinja
    from trl import SFTConfig, SFTTrainer
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(folder)

    prep_rows = [json.loads(line) for line in prep_data.read_text().splitlines()]

    def trl_once() -> float:  # an in-memory dataset: no cache files make a second run faster
        dataset = Dataset.from_list(prep_rows)
        start = time.perf_counter()
        SFTTrainer(model=model, args=SFTConfig(output_dir=str(tmp / "prep"), assistant_only_loss=True,
                                               report_to=[], max_length=512, use_cpu=True, bf16=False),
                   train_dataset=dataset, processing_class=trl_tokenizer)
        return time.perf_counter() - start

    trl_prep = min(trl_once() for _ in range(2))
    n = len(conversations)
    print(f"data preparation, {n} conversations (best of 3 / 2): ours {n / ours_prep:,.0f}/s; TRL's (SFTTrainer "
          f"init, assistant_only_loss): {n / trl_prep:,.0f}/s; ratio {trl_prep / ours_prep:.1f}x (target >= 2)")
    # the training rows, prepared as `instructkit train` prepares them (for the overhead run)
    prepared = tokenized_dataset(Auditor(tokenizer, get_template("smollm2"), 512).audit(list(read(data))),
                                 assistant_only_loss=True, max_length=512)

    # 1. ours (our defaults) against TRL's defaults
    for lever, override in (("allocator settings", "cpu_allocator=false"),
                            ("padding-free batches", "sft.padding_free=false")):
        without = run_ours(config, [override])
        gain = (ours["tokens"] / ours["seconds"]) / (without["tokens"] / without["seconds"])
        print(f"lever: {lever} {gain:.2f}x ({without['tokens'] / without['seconds']:,.0f} -> "
              f"{ours['tokens'] / ours['seconds']:,.0f} tokens/s with every lever on)")
    # TRL's defaults (bf16, gradient checkpointing) refuse to start without a GPU unless use_cpu is set:
    # that one change is made, everything else stays TRL's default.
    trl_default = run_trl(folder, data, tmp / "trl", {**common, **device_settings})
    rate = {k: v["tokens"] / v["seconds"] for k, v in (("ours", ours), ("trl", trl_default))}
    print(f"training ({args.model}, {args.steps} steps of {args.batch}): ours {rate['ours']:,.0f} tokens/s; "
          f"SFTTrainer with TRL defaults (+use_cpu) {rate['trl']:,.0f} tokens/s; ratio {rate['ours'] / rate['trl']:.2f}x "
          "(target >= 1.5)")

    # 2. wrapper overhead: SFTTrainer directly, our settings and our prepared data
    prepared.save_to_disk(tmp / "prepared")
    from training.config import load_config
    from training.steps import trainer_args

    from training.levers.device import attention, detect_device

    loaded = load_config(config)
    ours_args, _, _ = trainer_args(loaded, tmp / "direct", has_eval=False)
    identical = {k: getattr(ours_args, k) for k in ("bf16", "fp16", "use_cpu", "gradient_checkpointing",
                                                    "learning_rate", "seed", "padding_free", "max_length")}
    identical["_attention"] = attention(detect_device(), padding_free=ours_args.padding_free, choice=loaded.attention)
    direct = min((run_trl(folder, tmp / "prepared", tmp / "direct", {**common, **identical, "_tokenized": True,
                                                                     "_allocator": True}) for _ in range(2)),
                 key=lambda r: r["seconds"])
    ours = min([ours, run_ours(config, [])], key=lambda r: r["seconds"])  # best of two on both sides
    overhead = ours["seconds"] / direct["seconds"] - 1
    print(f"wrapper overhead against SFTTrainer with identical settings: {overhead:+.1%} of training time "
          f"({ours['seconds']:.1f} s vs {direct['seconds']:.1f} s; target <= 5%)")
    import resource

    print(f"peak RSS of the largest training process: "
          f"{resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20:.1f} GiB")


if __name__ == "__main__":
    main()
