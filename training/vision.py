"""Supervised fine-tuning of a vision-language model (`method: sft` when `model` is one: its config has
a `vision_config`), through TRL's own VLM path: the model's processor turns each row's images into
pixel values and its messages into tokens as the batch is collated (TRL's
`DataCollatorForVisionLanguageModeling`), and `assistant_only_loss` trains the spans the chosen
template marks (`{% generation %}`: smolvlm, idefics3, qwen2.5-vl, qwen3-vl training variants).

With `lora:` the adapter is trained (on the linear layers `lora.target_modules` names: every one by default,
the vision encoder's too) and saved, as for a text model.

Rows are validated as for any run (images read from the dataset's folder), written in the Hugging
Face layout (validation.content.relayout: `{"type": "image"}` parts and an `images` list, which
the collator takes) as a `datasets` Image column, which opens each image when its row is collated
(memory does not grow with the dataset), and checked before training on a sample collated as TRL
collates it: no image token is ever trained, and each reply's text is.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from training.config import ConfigError, TrainConfig
from training.steps import (RunSummary, gate, is_main_process, lora_config, plain, say, split_eval, train,
                            training_data, write_report)
from validation.report import Console

CHECKED_ROWS = 8  # rows collated before training to check what the collator trains


def load_vision_model(source: str) -> tuple[Any, Any, str]:
    """(model, processor, provenance) of a local vision-language model folder."""
    from transformers import AutoModelForImageTextToText, AutoProcessor

    try:
        processor = AutoProcessor.from_pretrained(source)
        model = AutoModelForImageTextToText.from_pretrained(source)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"model {source}: cannot be loaded as a vision-language model ({exc})") from None
    return model, processor, f"{source} (vision-language: {type(model).__name__}, {type(processor).__name__})"


def image_entry(entry: Any, root: Any) -> dict[str, Any]:
    """An image of a row in the Hugging Face layout (a path, a file:// or data URL, or a {"bytes",
    "path"} column entry) as a `datasets` Image value: {"path": the absolute path} or {"bytes": ...}."""
    from validation.checks.images import ImageChecks
    from validation.content import column_image

    image = column_image(entry, "")  # (validated rows: every entry is an image)
    found = ImageChecks(root).locate(image)  # type: ignore[arg-type]
    if found is None:
        raise ConfigError(f"image {entry}: a URL is not fetched; download the images and name their paths")
    return {"path": None, "bytes": bytes(found)} if isinstance(found, bytes) else {"path": str(found), "bytes": None}


def image_dataset(rows: list[dict[str, Any]]) -> Any:
    """`rows` ({"messages", "images"}) as a `datasets.Dataset` whose images open when read."""
    import datasets

    return datasets.Dataset.from_list(rows).cast_column("images", datasets.List(datasets.Image()))


def vision_rows(data: Any, template: Any) -> tuple[list[dict[str, Any]], int]:
    """(the rows `validate` passes under `template`, each as {"messages", "images"} in the Hugging
    Face layout, each image as a `datasets` Image value (`image_entry`); how many rows were read)."""
    from validation.checks.images import ImageChecks
    from validation.checks.scan import Scanner
    from validation.content import relayout
    from validation.models import as_dicts
    from validation.validate import conversation_of

    rows, read = [], 0
    for outcome in Scanner(data.format, rules=template.rules, duplicates=False,
                           images=ImageChecks.of(data)).scan(data.records(precise=True)):
        read += 1
        if not outcome.valid:
            continue
        conversation = conversation_of(data.format, outcome.record.data)
        column = conversation.metadata.get("images")
        messages, images = relayout(as_dicts(conversation.messages), column if isinstance(column, list) else None,
                                    "hf")
        rows.append({"messages": messages, "images": [image_entry(e, data.image_root) for e in images or ()]})
    return rows, read


def eval_file(config: TrainConfig, template: Any, path: str, split: str,
              console: Console | None) -> list[dict[str, Any]]:
    """The valid rows of the eval file (`eval.path`), read as the training rows are: its images from its own
    folder, the training data's column mapping. ConfigError when none is valid."""
    from validation.readers.source import dataset_of

    with dataset_of(path, split=split, columns=config.columns) as data:
        rows, total = vision_rows(data, template)
    left = f" ({total - len(rows)} invalid left out: `instructkit validate {path}` names them)" if total > len(rows) \
        else ""
    say(console, f"eval: {len(rows)} rows of {plain(path)}{left}")
    if not rows:
        raise ConfigError(f"eval.path {path}: no valid row to evaluate on")
    return rows


def check_collated(rows: Any, processor: Any, collator: Any) -> int:
    """Collate up to `CHECKED_ROWS` rows (a list or a `datasets.Dataset`) as TRL does and check what
    it trains: no image token, and some of every row's reply text. The rows checked; ConfigError
    naming the first that fails."""
    tokenizer = processor.tokenizer
    image_ids = {i for i in (getattr(processor, "image_token_id", None),
                             tokenizer.convert_tokens_to_ids(getattr(processor, "image_token", "<image>")))
                 if isinstance(i, int) and i >= 0}
    sample = [rows[k] for k in range(min(CHECKED_ROWS, len(rows)))]
    batch = collator(sample)
    for k, (ids, labels) in enumerate(zip(batch["input_ids"].tolist(), batch["labels"].tolist())):
        trained = [i for i, label in zip(ids, labels) if label != -100]
        if image_ids & set(trained):
            raise ConfigError(f"row {k + 1}: the collator trains image tokens; the template's marks "
                              "({% generation %}) must hold the replies only")
        replies = [m for m in sample[k]["messages"] if m["role"] == "assistant"]
        text = tokenizer.decode(trained)
        for reply in replies:
            words = "".join(p["text"] for p in reply["content"] if p.get("type") == "text") \
                if isinstance(reply["content"], list) else reply["content"]
            if words.strip() and words.strip().split()[0] not in text:
                raise ConfigError(f"row {k + 1}: the reply {words[:40]!r} is not trained (the template marks no "
                                  "generation span for it)")
    return len(sample)


def open_images(paths: list[str]) -> list[Any]:
    """The images `paths` name (local files, relative to the working directory), opened with Pillow and read
    whole; InputError naming the first that is missing, not an image, too large (a decompression bomb) or
    damaged, with the same checks and messages as `validate`'s."""
    from PIL import Image

    from validation.checks.images import ImageChecks
    from validation.content import ImageRef
    from validation.errors import InputError

    opened = []
    for path in paths:
        found = ImageChecks().check(ImageRef(path, "--image"))
        if found:
            raise InputError(f"--image {path}: {found[0][2]} ({found[0][1]})")
        try:
            image = Image.open(path)
            image.load()
        except (OSError, SyntaxError, ValueError) as exc:  # (pixels past a sound header: a cut file)
            raise InputError(f"--image {path}: its pixels cannot be read ({exc})") from None
        opened.append(image)
    return opened


def generate_with_images(model: Any, processor: Any, template: Any, messages: list[dict[str, Any]],
                         images: list[Any], *, max_new_tokens: int = 64) -> Any:
    """The vision-language model's greedy reply (a `training.samples.Reply`) to `messages` in the Hugging Face
    layout, whose `{"type": "image"}` parts take `images` (Pillow images) in order: rendered with `template` by
    the processor, which puts each image's tokens in, with the generation prompt; it stops at the template's stop
    tokens."""
    import torch

    from training.samples import Reply, reply_text, stop_ids

    tokenizer = processor.tokenizer
    stops = stop_ids(tokenizer, template)
    pictures = iter(images)
    asked = [{**m, "content": [{**p, "image": next(pictures)} if p.get("type") == "image" else p
                               for p in m["content"]]} if isinstance(m.get("content"), list) else m for m in messages]
    inputs = processor.apply_chat_template(asked, chat_template=template.jinja, add_generation_prompt=True,
                                           tokenize=True, return_dict=True, return_tensors="pt").to(model.device)
    model.eval()
    with torch.no_grad():
        output = model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False, eos_token_id=stops,
                                pad_token_id=tokenizer.pad_token_id)
    new = output[0][inputs["input_ids"].shape[1]:].tolist()
    stopped = bool(new) and new[-1] in stops
    return Reply(reply_text(tokenizer, new, stopped), stopped)


def question(prompt: str, images: list[Any]) -> list[dict[str, Any]]:
    """One user message: an image part for each of `images`, then the text `prompt`."""
    return [{"role": "user", "content": [*({"type": "image"} for _ in images), {"type": "text", "text": prompt}]}]


def held_out_prompts(rows: list[dict[str, Any]]) -> list[tuple[list[dict[str, Any]], list[Any]]]:
    """(messages before the last reply, the Pillow images they show) of each held-out row that has a reply; its
    images opened from their `datasets` Image values (`image_entry`)."""
    import io

    from PIL import Image

    prompts = []
    for row in rows:
        messages = row["messages"]
        last = max((i for i, m in enumerate(messages) if m["role"] == "assistant"), default=0)
        if not last:
            continue
        asked = messages[:last]
        shown = sum(p.get("type") == "image" for m in asked if isinstance(m["content"], list) for p in m["content"])
        images = [Image.open(e["path"] if e.get("path") else io.BytesIO(e["bytes"])) for e in row["images"][:shown]]
        prompts.append((asked, images))
    return prompts


def sample_replies(model: Any, processor: Any, template: Any, prompts: list[str],
                   held_out: list[tuple[list[dict[str, Any]], list[Any]]], max_new_tokens: int) -> tuple[list, list]:
    """(replies to the text `prompts`, replies to the held-out rows' questions, pictures included): what a run
    measures before and after training ("does it stop?")."""
    return ([generate_with_images(model, processor, template, question(p, []), [], max_new_tokens=max_new_tokens)
             for p in prompts],
            [generate_with_images(model, processor, template, m, images, max_new_tokens=max_new_tokens)
             for m, images in held_out])


def run_vision_sft(config: TrainConfig, out: Path, dry_run: bool, console: Console | None) -> RunSummary | None:
    """`method: sft` with a vision-language model (see the module's docstring)."""
    import yaml
    from trl import SFTTrainer
    from trl.trainer.sft_trainer import DataCollatorForVisionLanguageModeling

    from templating.resolve import resolve_template

    write_report(out / "config.yaml", yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False))
    if config.template == "auto":
        raise ConfigError("template: a vision-language model is trained with a template that marks its replies: "
                          "name one (smolvlm, idefics3, llava-next, qwen2.5-vl, qwen3-vl; `instructkit templates`)")
    if config.packing or config.token_budget is not None:
        raise ConfigError("packing and token_budget are for text models here (TRL's vision collator pads each batch "
                          "and must not cut an image's tokens); leave them out for a vision-language model")
    template = resolve_template(config.template, tokenizer=config.model)
    if not template.marked:
        raise ConfigError(f"template {template.name}: it marks no trained spans ({{% generation %}}), which TRL's "
                          "vision collator needs to train the replies only")
    with training_data(config) as data:  # validated before any model is loaded
        report = gate(config, out, console, data)
        rows, _ = vision_rows(data, template)
    if not rows:
        raise ConfigError(f"{report.path}: no valid row to train on")
    train_rows, eval_rows = split_eval(rows, config, lambda path, split: eval_file(config, template, path, split,
                                                                                  console))  # (before the model)
    model, processor, provenance = load_vision_model(config.model)
    say(console, f"model: {plain(provenance)}")
    train_set, eval_set = image_dataset(train_rows), image_dataset(eval_rows) if eval_rows else None
    processor.chat_template = template.jinja  # the training variant: its marks are what is trained
    collator = DataCollatorForVisionLanguageModeling(processor, assistant_only_loss=True)
    checked = check_collated(train_set, processor, collator)
    images = sum(len(r["images"]) for r in train_rows + eval_rows)
    say(console, f"prepare: {len(train_rows)} train / {len(eval_rows)} eval conversations with {images} images; "
                 f"on {checked} rows collated as TRL collates them, no image token is trained and every reply is")
    if dry_run:
        return None

    def make_trainer(args: Any) -> Any:
        args.assistant_only_loss = True  # (the collator's masks, from the template's marks)
        args.remove_unused_columns = False  # the images column is the collator's
        args.max_length = None  # the collator must not cut an image's tokens
        args.padding_free = False  # (TRL's vision collator pads)
        return SFTTrainer(model=model, args=args, train_dataset=train_set, eval_dataset=eval_set,
                          processing_class=processor, data_collator=collator, peft_config=lora_config(config))

    held_out = held_out_prompts(eval_rows[:config.stop_check_rows])
    summary = train(config, out, model, processor.tokenizer, template, make_trainer,
                    (len(train_rows), len(eval_rows)), held_out, report.invalid, provenance, console, None,
                    replies=lambda m: sample_replies(m, processor, template, config.sample_prompts, held_out,
                                                     config.max_new_tokens))
    if is_main_process():
        processor.save_pretrained(str(out))  # the image processor beside the tokenizer the run saved
    return summary
