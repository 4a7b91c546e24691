"""`instructkit train`, `generate` and `verify`: parse arguments, call the library, summarise."""

from __future__ import annotations

import argparse
import json
from typing import Any

from validation.arguments import at_least


def register(commands: argparse._SubParsersAction) -> None:
    train = commands.add_parser(
        "train", help="fine-tune a model on a validated dataset (TRL SFTTrainer)",
        description="validate ► audit ► stats ► prepare ► train ► save. Exit 1 when the dataset has errors and "
                    "on_invalid is stop (before any model is loaded) or the supervision audit finds errors and "
                    "on_audit_error is stop; 2 for a bad config.")
    train.add_argument("config", metavar="CONFIG.yaml", help="training config (see docs/training.md)")
    train.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                       help="override a config key, e.g. --set sft.learning_rate=1e-4 (repeatable)")
    train.add_argument("--dry-run", action="store_true",
                       help="stop before training and show one prepared example with its trained tokens")
    train.add_argument("--resume", action="store_true", help="continue the run in output_dir from its last "
                       "complete checkpoint (the config's resume: true)")
    train.add_argument("--overwrite", action="store_true", help="write into an output_dir that holds files of no "
                       "earlier run (same-named files are replaced, none is deleted)")
    train.set_defaults(run=run_train)

    generate = commands.add_parser("generate", help="greedy reply of a model to one prompt",
                                   description="Quick check of a model: render the prompt with its chat template "
                                               "and decode greedily up to its stop tokens (--raw: continue the text "
                                               "as it is, as a language model).")
    generate.add_argument("model", metavar="MODEL", help=MODEL_HELP)
    generate.add_argument("prompt", help="the user message (--raw: the text to continue)")
    _generation_arguments(generate)
    generate.add_argument("--tools", metavar="TOOLS.json", help="tool definitions (a JSON list) the prompt is asked "
                          "with, rendered as in training")
    generate.set_defaults(run=run_generate)

    compare = commands.add_parser(
        "compare", help="two models' replies to the same prompts, side by side (before / after training)",
        description="Greedy replies of BEFORE and AFTER to each prompt, side by side, and how many of them stop. "
                    "Prompts: given here, --prompts FILE (one a line), or else the sample_prompts of AFTER's run.")
    compare.add_argument("before", metavar="BEFORE", help=MODEL_HELP)
    compare.add_argument("after", metavar="AFTER", help=MODEL_HELP)
    compare.add_argument("prompts", metavar="PROMPT", nargs="*", help="user messages (--raw: texts to continue)")
    compare.add_argument("--prompts", dest="prompts_file", metavar="FILE", help="a text file of prompts, one a line")
    _generation_arguments(compare)
    compare.set_defaults(run=run_compare)

    verify = commands.add_parser(
        "verify", help="check a trained model folder renders and stops as it was trained",
        description="Re-render the probe conversation with the folder's tokenizer and compare it with the "
                    "template fingerprint written at training time; check generation_config stops at the "
                    "end-of-turn token. Exit 0: all pass; 1: a check fails; 2: no fingerprint.")
    verify.add_argument("model", metavar="MODEL_DIR", help="a folder written by `instructkit train`")
    verify.add_argument("--json", action="store_true", help="print the checks as JSON")
    verify.set_defaults(run=run_verify)


MODEL_HELP = ("a folder written by `instructkit train`, a model folder, a .gguf file or a hub id "
              "(HuggingFaceTB/SmolLM2-135M-Instruct: the embedded model, offline)")


def _generation_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--max-new-tokens", type=at_least(1), default=128, metavar="N", help="default 128")
    parser.add_argument("--template", metavar="NAME", help="the chat template (default: the model's own, matched to "
                        "the registry)")
    parser.add_argument("--raw", action="store_true", help="no chat template: the model continues the prompt as "
                        "text (a model trained with format: text, code completion)")
    parser.add_argument("--image", action="append", default=[], metavar="PATH", help="a picture asked about, "
                        "before the prompt (repeatable; a vision-language model)")


def run_train(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.markup import escape

    from training.config import load_config
    from training.pipeline import run
    from training.errors import InvalidDataset, PushFailed
    from validation.report import render_report

    console = Console()
    # a ConfigError (an InputError) from here on is one line, exit 2, at the CLI boundary
    config = load_config(args.config, overrides=args.set)
    config = config.model_copy(update={"resume": config.resume or args.resume,
                                       "overwrite": config.overwrite or args.overwrite})
    try:
        summary = run(config, dry_run=args.dry_run, console=console)
    except InvalidDataset as exc:
        render_report(exc.report, console)
        console.print(f"[red]{escape(str(exc))}[/]")
        return 1
    except PushFailed as exc:
        console.print(f"[red]{escape(str(exc))}[/]")
        return 1
    from training.steps import is_main_process

    if summary is not None and is_main_process():
        _summary(summary, console)
    return 0


def _summary(summary, console) -> None:  # noqa: ANN001 - RunSummary, imported lazily
    from rich.table import Table
    from rich.text import Text

    table = Table(title="training summary", title_justify="left", show_header=False)
    rows = [("model", summary.model), ("template", summary.template),
            ("rows", f"{summary.train_rows} train, {summary.eval_rows} eval, {summary.dropped_rows} dropped"),
            ("steps", str(summary.steps)), ("time", f"{summary.seconds:.1f} s"),
            ("tokens", f"{summary.train_tokens:,} ({summary.tokens_per_second:,.0f}/s)"),
            ("loss", f"{summary.first_loss:.3f} → {summary.final_loss:.3f}" if summary.final_loss is not None else "-"),
            ("eval loss", f"{summary.eval_loss:.3f}" if summary.eval_loss is not None else
             "none: no eval split (eval: {ratio: 0.1} holds out a tenth)"),
            ("device", f"{summary.device}, {summary.precision}"),
            *([("rows per source", ", ".join(f"{name} {n:,}" for name, n in summary.sources.items()))]
              if summary.sources else []),
            ("stops", _rates(summary.stop_rate_before, summary.stop_rate_after)), ("saved", summary.output_dir)]
    if summary.reward_margin_last is not None:  # dpo, kto: what the preference taught
        rows[-1:-1] = [("reward margin", f"{summary.reward_margin_first:.3f} → {summary.reward_margin_last:.3f} "
                                         "(chosen minus rejected)")]
    if summary.reward_accuracy_last is not None:
        rows[-1:-1] = [("reward accuracy", f"{summary.reward_accuracy_first:.0%} → {summary.reward_accuracy_last:.0%}"
                                           " of pairs reward the chosen reply more")]
    for key, value in rows:  # model ids and paths are text; only the stop-rate flag is markup
        table.add_row(key, value if key == "stops" else Text(value))
    console.print(table)


def _rates(before: float | None, after: float | None) -> str:
    if before is None or after is None:
        return "-"
    flag = "  [bold red]fewer replies stop after training[/]" if after < before else ""
    return f"{before:.0%} → {after:.0%} of replies end with a stop token{flag}"


def run_generate(args: argparse.Namespace) -> int:
    from training.config import read_tools
    from training.models import is_vision_model
    from training.samples import complete, generate, show

    if is_vision_model(args.model):
        return _generate_vision(args)
    _pictures_for(args, [args.model])
    tools = read_tools(args.tools, "--tools") if args.tools else None  # before the model: a bad file is quick
    model, tokenizer, template = _model_for(args.model, args.template, args.raw)
    if template is None:
        print(args.prompt + complete(model, tokenizer, [args.prompt], max_new_tokens=args.max_new_tokens)[0].text)
        return 0
    reply = generate(model, tokenizer, template, [args.prompt], max_new_tokens=args.max_new_tokens, tools=tools)[0]
    print(show(reply))
    if template.spec.call_syntax:  # a call the model made, read back as the data it would be
        from templating.environment import TemplateError
        from templating.toolcalls import parse_tool_calls

        try:
            calls = parse_tool_calls(reply.text, template.name, tools)[1]
        except TemplateError as exc:
            print(f"(a malformed tool call: {exc})")
            return 0
        for call in calls:
            arguments = json.dumps(call["function"]["arguments"], ensure_ascii=False)
            print(f"call: {call['function']['name']}({arguments})")
    return 0


def _pictures_for(args: argparse.Namespace, sources: list[str]) -> None:
    """InputError, before any model loads, when --image is given for a model that is not a vision-language one."""
    from training.models import is_vision_model
    from validation.errors import InputError

    text = [source for source in sources if not is_vision_model(source)]
    if args.image and text:
        raise InputError(f"--image: {text[0]} is not a vision-language model (its config.json has no vision_config); "
                         "leave --image out for a text model")


def _generate_vision(args: argparse.Namespace) -> int:
    """`generate` with a vision-language model folder: the pictures of --image, then the prompt."""
    from training.samples import show

    print(show(_vision_replies(args.model, [args.prompt], args)[0]))
    return 0


def _vision_replies(source: str, prompts: list[str], args: argparse.Namespace) -> list[Any]:
    """A vision-language model's greedy replies to `prompts`, each asked with the pictures of --image."""
    from templating import detect_template, get_template
    from training.rundir import require_finished
    from training.vision import generate_with_images, load_vision_model, open_images, question
    from validation.errors import InputError

    for option in ("raw", "tools"):
        if getattr(args, option, None):
            raise InputError(f"--{option} with a vision-language model ({source}): not taken here; ask with --image "
                             "and a prompt")
    require_finished(source)
    template = get_template(args.template) if args.template else None  # a wrong name: before loading
    images = open_images(args.image)
    model, processor, _ = load_vision_model(source)
    if template is None:
        name = detect_template(processor)
        if name is None:
            raise InputError(f"{source}: its processor's chat template is not one the registry knows; name one "
                             "with --template")
        template = get_template(name)
    return [generate_with_images(model, processor, template, question(prompt, images), images,
                                 max_new_tokens=args.max_new_tokens) for prompt in prompts]


def _model_for(source: str, template_name: str | None, raw: bool) -> tuple[Any, Any, Any]:
    """(model, tokenizer, template or None for --raw) of what `generate` and `compare` name: a run
    folder must have finished; a model's template is its own unless one is named."""
    from pathlib import Path

    from templating import detect_template, get_template
    from training.models import load_model
    from training.rundir import require_finished
    from validation.errors import InputError

    if Path(source).is_dir():
        require_finished(source)  # UnfinishedRun: one line, exit 2
    template = get_template(template_name) if template_name and not raw else None  # a wrong name: before loading
    model, tokenizer, _ = load_model(source)
    if raw or template is not None:
        return model, tokenizer, template
    name = detect_template(tokenizer)
    if name is None:
        raise InputError(f"{source}: its chat template is not one the registry knows; name one with --template, or "
                         "use --raw for a model without a chat template")
    return model, tokenizer, get_template(name)


def run_compare(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from training.models import is_vision_model
    from training.samples import complete, generate, stop_rate

    prompts = _prompts(args)
    _pictures_for(args, [args.before, args.after])
    replies = []
    for source in (args.before, args.after):
        if is_vision_model(source):
            replies.append(_vision_replies(source, prompts, args))
            continue
        model, tokenizer, template = _model_for(source, args.template, args.raw)
        replies.append(complete(model, tokenizer, prompts, max_new_tokens=args.max_new_tokens) if template is None
                       else generate(model, tokenizer, template, prompts, max_new_tokens=args.max_new_tokens))
        del model
    console = Console()
    console.print(f"before: {args.before}\nafter:  {args.after}", markup=False, highlight=False)
    for prompt, before, after in zip(prompts, *replies):
        table = Table("before", "after", title=Text(prompt), title_justify="left", expand=True)
        table.add_row(*(Text(r.text + ("" if r.stopped else " …(did not stop)")) for r in (before, after)))
        console.print(table)
    rates = [stop_rate(r) for r in replies]
    console.print(f"stop: {rates[0]:.0%} before, {rates[1]:.0%} after (of {len(prompts)} replies, ending before "
                  f"--max-new-tokens {args.max_new_tokens})", markup=False, highlight=False)
    return 0


def _prompts(args: argparse.Namespace) -> list[str]:
    """compare's prompts: those given, a file's lines, or AFTER's run's sample_prompts."""
    from pathlib import Path

    from validation.errors import InputError

    if args.prompts and args.prompts_file:
        raise InputError("give prompts or --prompts FILE, not both")
    if args.prompts:
        return list(args.prompts)
    if args.prompts_file:
        try:
            lines = Path(args.prompts_file).read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"--prompts {args.prompts_file}: cannot read it ({exc})") from None
        prompts = [line for line in lines if line.strip()]
        if not prompts:
            raise InputError(f"--prompts {args.prompts_file}: no prompt in it (one a line)")
        return prompts
    import yaml

    config = Path(args.after) / "config.yaml"
    try:
        prompts = (yaml.safe_load(config.read_text(encoding="utf-8")) or {}).get("sample_prompts") or []
    except (OSError, yaml.YAMLError):
        prompts = []
    if not prompts:
        raise InputError(f"no prompts: give them, or --prompts FILE ({args.after} is no training run with "
                         "sample_prompts)")
    return [str(p) for p in prompts]


def run_verify(args: argparse.Namespace) -> int:
    import json
    import sys
    from pathlib import Path

    from training.fingerprint import verify
    from validation.errors import InputError
    if not Path(args.model).is_dir():
        raise InputError(f"{args.model}: no such model folder")
    checks = verify(args.model)  # UnfinishedRun or NoFingerprint (InputErrors): one line, exit 2
    if args.json:
        json.dump({"model": args.model, "ok": all(c.passed for c in checks),
                   "checks": [c.__dict__ for c in checks]}, sys.stdout, ensure_ascii=False, indent=1)
        print()
    else:
        from rich.console import Console
        from rich.markup import escape

        console = Console()
        for c in checks:  # details quote rendered text
            console.print(f"{'[green]pass[/]' if c.passed else '[red]FAIL[/]'} {c.name}: {escape(c.detail)}")
    return 0 if all(c.passed for c in checks) else 1
