"""A vision-language model trained through TRL's VLM path (training/vision.py): a tiny random
Idefics3 (SmolVLM's architecture) built from transformers' classes with the real SmolLM2 tokenizer,
and pictures drawn with Pillow."""

from __future__ import annotations

import json

import pytest
import yaml

COLOURS = {"red": (220, 40, 40), "blue": (40, 80, 220), "green": (40, 160, 70), "yellow": (235, 200, 30)}


@pytest.fixture(scope="module")
def tiny_vlm(tmp_path_factory, smollm2_tokenizer):
    """A folder with a tiny Idefics3 model and its processor (the image processor, SmolLM2's tokenizer)."""
    import torch
    from transformers import (Idefics3Config, Idefics3ForConditionalGeneration, Idefics3ImageProcessor,
                              Idefics3Processor)

    from templating import get_template

    folder = tmp_path_factory.mktemp("tiny-idefics3")
    images = Idefics3ImageProcessor(do_resize=True, size={"longest_edge": 32}, max_image_size={"longest_edge": 32},
                                    do_image_splitting=False)
    processor = Idefics3Processor(image_processor=images, tokenizer=smollm2_tokenizer, image_seq_len=4,
                                  chat_template=get_template("smolvlm").official_jinja)
    tokenizer = processor.tokenizer
    config = Idefics3Config(
        vision_config={"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": 2,
                       "image_size": 32, "patch_size": 8},
        text_config={"model_type": "llama", "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
                     "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": len(tokenizer),
                     "max_position_embeddings": 512},
        scale_factor=2, image_token_id=processor.image_token_id, pad_token_id=tokenizer.pad_token_id)
    torch.manual_seed(0)
    Idefics3ForConditionalGeneration(config).save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


def pictures(folder):
    """Rows asking the colour of four pictures (English and Korean), in the Hugging Face layout."""
    from PIL import Image

    (folder / "pics").mkdir()
    rows = []
    for name, colour in COLOURS.items():
        Image.new("RGB", (48, 36), colour).save(folder / "pics" / f"{name}.png")
        for question in ("What colour is it?", "무슨 색인가요?"):
            rows.append({"messages": [
                {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": question}]},
                {"role": "assistant", "content": [{"type": "text", "text": f"It is {name}."}]}],
                "images": [f"pics/{name}.png"]})
    path = folder / "colours.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def config_file(tmp_path, model, data, **extra):
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump({"model": str(model), "template": "smolvlm", "dataset": {"path": str(data)},
                                    "max_length": 256, "output_dir": str(tmp_path / "out"),
                                    "sft": {"max_steps": 6, "per_device_train_batch_size": 4, "learning_rate": 5e-3,
                                            "logging_steps": 1, "save_strategy": "no"}, **extra}))
    return path


def test_a_vision_model_trains_on_the_replies_and_never_on_an_image(cli, tmp_path, tiny_vlm):
    from transformers import AutoModelForImageTextToText, AutoProcessor

    result = cli("train", config_file(tmp_path, tiny_vlm, pictures(tmp_path), sample_prompts=["What colour?"]))
    assert result.code == 0, result.out + result.err
    assert "8 train / 0 eval conversations with 8 images" in result.out
    assert "no image token is trained and every reply is" in result.out
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    rates = metrics["stop_rates"]  # the sample prompt asked before and after training, as for a text model
    assert (rates["sample prompts"]["n"], rates["held-out eval rows"]["n"]) == (1, 0)
    assert "What colour?" in (tmp_path / "out" / "samples.md").read_text()
    losses = [h["loss"] for h in metrics["log_history"] if "loss" in h]
    assert len(losses) == 6 and losses[-1] < losses[0]
    saved = AutoProcessor.from_pretrained(tmp_path / "out")  # the processor beside the model, the template trained
    assert "{% generation %}" in saved.chat_template
    assert type(AutoModelForImageTextToText.from_pretrained(tmp_path / "out")).__name__ == \
        "Idefics3ForConditionalGeneration"
    result = cli("compare", tiny_vlm, tmp_path / "out", "What colour?", "무슨 색?", "--image",
                 tmp_path / "pics" / "blue.png", "--max-new-tokens", "3")  # before and after, the same picture
    assert result.code == 0 and "of 2 replies, ending before --max-new-tokens 3" in result.out, result.err
    result = cli("compare", tiny_vlm, "HuggingFaceTB/SmolLM2-135M-Instruct", "What colour?", "--image",
                 tmp_path / "pics" / "blue.png")  # (refused before either model loads)
    assert result.code == 2 and "--image: HuggingFaceTB/SmolLM2-135M-Instruct is not a vision-language model" in \
        result.err
    from templating.errors import ModelNotFound
    from training.models import load_model

    with pytest.raises(ModelNotFound, match="dpo and kto train text models here"):  # (what loads text models)
        load_model(str(tiny_vlm))
    assert cli("verify", tmp_path / "out").code == 0  # the saved template, probe tokens and stop ids
    result = cli("generate", tmp_path / "out", "What colour?", "--image", tmp_path / "pics" / "red.png",
                 "--max-new-tokens", "4")  # the template found from the saved processor's (the training variant)
    assert result.code == 0 and result.out.strip(), result.err


def test_lora_trains_an_adapter_of_the_vision_model_and_leaves_its_weights(cli, tmp_path, tiny_vlm):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForImageTextToText

    pytest.importorskip("peft")
    result = cli("train", config_file(tmp_path, tiny_vlm, pictures(tmp_path), lora={"r": 4, "alpha": 8}))
    assert result.code == 0, result.out + result.err
    assert "no image token is trained and every reply is" in result.out
    out = tmp_path / "out"
    assert (out / "adapter_config.json").is_file() and not (out / "model.safetensors").exists()
    targets = set(json.loads((out / "adapter_config.json").read_text())["target_modules"])
    assert {"q_proj", "v_proj", "fc1"} <= targets  # all-linear: the language model's and the vision encoder's
    base = AutoModelForImageTextToText.from_pretrained(tiny_vlm)
    before = {name: weight.clone() for name, weight in base.named_parameters()}
    tuned = dict(PeftModel.from_pretrained(base, out).named_parameters())
    kept = {n.removeprefix("base_model.model.").replace(".base_layer.", "."): w for n, w in tuned.items()
            if ".lora_" not in n}
    assert kept.keys() == before.keys() and all(torch.equal(kept[n], w) for n, w in before.items())
    adapters = [w for n, w in tuned.items() if "lora_B" in n]
    assert adapters and any(w.abs().sum() > 0 for w in adapters)  # lora_B starts at zero: it trained


def test_an_eval_file_is_read_with_its_own_pictures_and_gives_an_eval_loss(cli, tmp_path, tiny_vlm):
    held = tmp_path / "held"
    held.mkdir()
    evals = pictures(held)  # held/pics: read from the eval file's folder, not the training file's
    (tmp_path / "pics").mkdir()  # (no pictures beside the training rows' folder under that name)
    train = tmp_path / "train" / "colours.jsonl"
    train.parent.mkdir()
    pictures(train.parent)
    with evals.open("a", encoding="utf-8") as f:  # a row whose picture is missing: left out, and said
        f.write(json.dumps({"messages": [
            {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "And this?"}]},
            {"role": "assistant", "content": [{"type": "text", "text": "It is black."}]}],
            "images": ["pics/black.png"]}) + "\n")
    sft = {"max_steps": 4, "per_device_train_batch_size": 4, "learning_rate": 5e-3, "logging_steps": 1,
           "save_strategy": "no", "eval_steps": 2}
    result = cli("train", config_file(tmp_path, tiny_vlm, train, eval={"path": str(evals)}, sft=sft))
    assert result.code == 0, result.out + result.err
    said = "".join(result.out.split())  # (the console wraps long lines, paths too)
    assert "".join(f"eval: 8 rows of {evals} (1 invalid left out".split()) in said
    assert "8train/8evalconversationswith16images" in said
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert (metrics["summary"]["eval_rows"], metrics["summary"]["eval_loss"] > 0) == (8, True)
    held = metrics["stop_rates"]["held-out eval rows"]  # "does it stop?" on the held-out rows, pictures and all
    assert held["n"] == 8 and held["before"] is not None and held["after"] is not None


def test_generate_asks_a_vision_model_about_pictures_as_transformers_asks_it(cli, tmp_path, tiny_vlm):
    """`generate MODEL PROMPT --image PICTURE`: the picture's tokens in the prompt, the reply transformers' own
    greedy generation gives for the same message (a random model: words, not colours)."""
    from PIL import Image
    from transformers import AutoModelForImageTextToText, AutoProcessor

    picture = tmp_path / "red.png"
    Image.new("RGB", (48, 36), COLOURS["red"]).save(picture)
    result = cli("generate", tiny_vlm, "무슨 색인가요?", "--image", picture, "--max-new-tokens", "6")
    assert result.code == 0, result.err
    processor = AutoProcessor.from_pretrained(tiny_vlm)
    message = [{"role": "user", "content": [{"type": "image", "path": str(picture)},
                                            {"type": "text", "text": "무슨 색인가요?"}]}]
    inputs = processor.apply_chat_template(message, add_generation_prompt=True, tokenize=True, return_dict=True,
                                           return_tensors="pt")
    assert int((inputs["input_ids"] == processor.image_token_id).sum()) == 4  # image_seq_len tokens of one picture
    output = AutoModelForImageTextToText.from_pretrained(tiny_vlm).generate(**inputs, max_new_tokens=6,
                                                                            do_sample=False)
    expected = processor.tokenizer.decode(output[0][inputs["input_ids"].shape[1]:], skip_special_tokens=True)
    assert result.out.strip() == expected.strip().rstrip("\ufffd") and expected.strip()
    for wrong, said in ((["--image", tmp_path / "none.png"], "none.png does not exist"),
                        (["--image", tmp_path / "run.yaml"], "is not an image Pillow can read"),
                        (["--raw"], "--raw with a vision-language model")):
        (tmp_path / "run.yaml").write_text("not a picture")
        result = cli("generate", tiny_vlm, "What colour?", *wrong)
        assert result.code == 2 and said in result.err, result.err


def test_the_collated_rows_are_checked_before_training(tiny_vlm, tmp_path):
    from transformers import AutoProcessor
    from trl.trainer.sft_trainer import DataCollatorForVisionLanguageModeling

    from templating import get_template
    from training.config import ConfigError
    from training.vision import check_collated, image_dataset, image_entry

    processor = AutoProcessor.from_pretrained(tiny_vlm)
    path = pictures(tmp_path)
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    rows = image_dataset([{**r, "images": [image_entry(e, tmp_path) for e in r["images"]]} for r in rows])
    assert rows.features["images"].feature.decode and rows[0]["images"][0].size == (48, 36)  # (opened when read)
    processor.chat_template = get_template("smolvlm").jinja
    assert check_collated(rows, processor, DataCollatorForVisionLanguageModeling(processor,
                                                                                 assistant_only_loss=True)) == 8

    def everything(batch):  # a collator that trains every token, images included
        out = DataCollatorForVisionLanguageModeling(processor)(batch)
        out["labels"] = out["input_ids"].clone()
        return out
    with pytest.raises(ConfigError, match="row 1: the collator trains image tokens"):
        check_collated(rows, processor, everything)


def test_a_vision_run_refuses_what_it_cannot_do_before_loading_the_model(cli, tmp_path, tiny_vlm):
    data = pictures(tmp_path)
    result = cli("train", config_file(tmp_path, tiny_vlm, data, template="auto"))
    assert result.code == 2 and "a vision-language model is trained with a template that marks its replies" in \
        result.err
    result = cli("train", config_file(tmp_path, tiny_vlm, data, packing=True))
    assert result.code == 2 and "packing and token_budget are for text models here" in result.err
    text_rows = tmp_path / "text.jsonl"  # strings: smolvlm reads parts only, so the gate stops the run
    text_rows.write_text(json.dumps({"messages": [{"role": "user", "content": "Hi"},
                                                  {"role": "assistant", "content": "Hello."}]}) + "\n")
    result = cli("train", config_file(tmp_path, tiny_vlm, text_rows))
    assert result.code == 1 and "parts-required" in result.out
