"""The supervision guard end to end on the tiny model: the gate's audit, stop rates before and
after training, the template fingerprint and `verify`, train/eval leakage."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from training import load_config, run
from training.errors import InvalidDataset
pytest.importorskip("trl")
TEMPLATES = Path(__file__).parents[1] / "data" / "templates"
SFT = {"learning_rate": 1e-2, "per_device_train_batch_size": 8, "logging_steps": 5, "disable_tqdm": True,
       "save_strategy": "no", "lr_scheduler_type": "constant"}
PROMPTS = [f"What is {i} plus {i}?" for i in range(8)]
ROWS = [{"messages": [{"role": "user", "content": p}, {"role": "assistant", "content": f"{i} plus {i} is {2 * i}."}]}
        for i, p in enumerate(PROMPTS)]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "sums.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    return path


@pytest.fixture(scope="module")
def no_eot_template():
    """ChatML whose training spans stop before <|im_end|>: renders like chatml, never trains the stop."""
    from templating import get_template, register_template

    chatml = get_template("chatml")
    register_template("chatml-no-eot", chatml.official_jinja, training_jinja=TEMPLATES / "no_eot_in_mask.jinja",
                      special_tokens=chatml.spec.special_tokens, end_of_turn="<|im_end|>",
                      generation_prompt="<|im_start|>assistant\n", eos_token="<|im_end|>", replace=True)
    return "chatml-no-eot"


def train(tiny_model, dataset, out, template, **values):
    return run(load_config(model=str(tiny_model), dataset={"path": str(dataset)}, output_dir=str(out),
                           template=template, max_length=64, sample_prompts=PROMPTS, max_new_tokens=16,
                           **values, sft={**SFT, "max_steps": 120}))


@pytest.fixture(scope="module")
def trained(tiny_model, dataset, tmp_path_factory):
    out = tmp_path_factory.mktemp("with-eot")
    return out, train(tiny_model, dataset, out, "chatml")


def test_gate_stops_on_an_unsupervised_end_of_turn_with_the_audit_report(tiny_model, dataset, tmp_path,
                                                                         no_eot_template):
    with pytest.raises(InvalidDataset) as caught:
        train(tiny_model, dataset, tmp_path / "out", no_eot_template)
    report = caught.value.report
    assert report.counts() == {"end-of-turn-not-supervised": 8}
    assert {(i.row, i.path) for i in report.issues} == {(row, "messages[1].content") for row in range(1, 9)}
    assert "end-of-turn-not-supervised 8" in str(caught.value)
    saved = json.loads((tmp_path / "out" / "audit.json").read_text())
    assert saved["summary"]["rows_with"] == {"end-of-turn-not-supervised": 8}
    assert not (tmp_path / "out" / "model.safetensors").exists()


def test_a_model_trained_without_end_of_turn_stops_less_often(tiny_model, dataset, tmp_path, trained,
                                                              no_eot_template):
    folder, with_eot = trained
    without = train(tiny_model, dataset, tmp_path / "without", no_eot_template, on_audit_error="warn")
    assert (with_eot.stop_rate_before, with_eot.stop_rate_after) == (0.0, 1.0)
    assert without.stop_rate_after < with_eot.stop_rate_after
    assert without.stop_rate_after <= 0.25
    assert "| sample prompts | 8 | 0% | 100% |" in (folder / "samples.md").read_text()
    assert json.loads((folder / "metrics.json").read_text())["stop_rates"]["sample prompts"] == \
        {"n": 8, "before": 0.0, "after": 1.0}


def verify_names(folder) -> dict[str, bool]:
    from training.fingerprint import verify

    return {c.name: c.passed for c in verify(folder)}


def test_verify_passes_on_the_folder_training_wrote(trained):
    folder, _ = trained
    saved = json.loads((folder / "template_fingerprint.json").read_text())
    assert (saved["template"], saved["end_of_turn"]) == ("chatml", "<|im_end|>")
    assert saved["end_of_turn_id"] in json.loads((folder / "generation_config.json").read_text())["eos_token_id"]
    assert verify_names(folder) == dict.fromkeys(
        ["template", "probe-render", "probe-tokens", "special-tokens", "stop-ids"], True)


def test_verify_catches_a_template_swapped_after_training(trained, tmp_path):
    from templating import get_template

    folder = tmp_path / "swapped"
    shutil.copytree(trained[0], folder)
    (folder / "chat_template.jinja").write_text(get_template("zephyr").official_jinja)
    result = verify_names(folder)
    assert (result["template"], result["probe-render"], result["stop-ids"]) == (False, False, True)


def test_verify_catches_generation_that_does_not_stop_at_end_of_turn(trained, tmp_path):
    folder = tmp_path / "no-stop"
    shutil.copytree(trained[0], folder)
    config = json.loads((folder / "generation_config.json").read_text())
    config["eos_token_id"] = 0
    (folder / "generation_config.json").write_text(json.dumps(config))
    assert verify_names(folder) == {"template": True, "probe-render": True, "probe-tokens": True,
                                    "special-tokens": True, "stop-ids": False}


def test_verify_cli_exit_codes(trained, tmp_path, capsys):
    import instructkit

    assert instructkit.main(["verify", str(trained[0]), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["ok"] is True
    assert instructkit.main(["verify", str(tmp_path)]) == 2
    assert "no template_fingerprint.json" in capsys.readouterr().err


def test_train_reports_eval_rows_that_repeat_training_rows(tiny_model, tmp_path, dry_run_reports):
    rows = ROWS + [ROWS[0], {"messages": [{"role": "user", "content": "WHAT IS 1 plus 1?"},
                                          {"role": "assistant", "content": "1 plus 1 is 2."}]}]
    train_path, eval_path = tmp_path / "train.jsonl", tmp_path / "eval.jsonl"
    train_path.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    eval_path.write_text("".join(json.dumps(r) + "\n" for r in rows[-3:]))
    out = tmp_path / "out"
    run(load_config(model=str(tiny_model), dataset={"path": str(train_path)}, eval={"path": str(eval_path)},
                    output_dir=str(out), template="chatml", max_length=64, sft={**SFT, "max_steps": 1}), dry_run=True)
    assert json.loads((dry_run_reports / "stats.json").read_text())["leakage"] == \
        {"b_rows_in_a_exact": 2, "b_rows_in_a_normalised": 3}


def test_over_length_drop_that_leaves_nothing_is_one_clear_line(cli, tiny_model, dataset, tmp_path):
    from tests.training.conftest import write_config

    config = write_config(tmp_path, model=str(tiny_model), dataset={"path": str(dataset)}, template="chatml",
                          max_length=8, over_length="drop", output_dir=str(tmp_path / "out"),
                          sft={**SFT, "max_steps": 1})
    result = cli("train", config)
    assert result.code == 2 and "no row left to train on (8 audited" in result.err
    saved = json.loads((tmp_path / "out" / "audit.json").read_text())
    assert saved["summary"]["rows_dropped"] == 8 and saved["counts"] == {"too-long": 8}
