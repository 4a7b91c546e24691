"""The catalogue of issue codes: stable kebab-case names, their severity and what to do.

`docs/errors.md` is generated from this table (`python -m validation.codes > docs/errors.md`)
and a test keeps the two equal, so the documentation cannot drift from the code.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

Severity = Literal["error", "warning"]


class Code(NamedTuple):
    """One entry of the catalogue."""

    name: str
    severity: Severity
    group: str
    meaning: str
    fix: str


CATALOGUE: dict[str, Code] = {c.name: c for c in [
    # decoding: the row is not a usable JSON object
    Code("invalid-json", "error", "decoding", "The row is not valid JSON.",
         "Fix the syntax at the reported column; one JSON object per line."),
    Code("invalid-utf8", "error", "decoding", "The row holds bytes that are not valid UTF-8.",
         "Read the file with its encoding (`--encoding cp949`), or re-encode it as UTF-8 once "
         "(`iconv -f CP949 -t UTF-8`)."),
    Code("lone-surrogate", "error", "decoding",
         "A `\\uD800`-`\\uDFFF` escape without its pair: the text cannot be encoded.",
         "Repair or drop the broken escape; tokenizers cannot encode it."),
    Code("trailing-data", "error", "decoding", "Something follows the JSON value on the same line.",
         "Put one JSON object per line; remove what follows it."),
    Code("too-deeply-nested", "error", "decoding", "The row nests arrays/objects deeper than 512 levels.",
         "No chat row needs this depth; the row is almost certainly corrupt."),
    Code("row-too-large", "error", "decoding", "The row is longer than the row limit (256 MiB unless "
         "--max-row-bytes says otherwise); it is skipped unread, so that one line cannot exhaust memory.",
         "Split the row, or raise --max-row-bytes if such rows are real data (memory grows with it)."),
    Code("duplicate-key", "warning", "decoding", "One object of the row holds a key twice (as written); JSON "
         "readers keep the last value without a word, so the first is lost on any rewrite.",
         "Keep one of the two: decide which value is meant."),
    Code("csv-extra-cells", "error", "decoding", "A CSV row has more cells than the header has columns: "
         "which column each cell belongs to is unknown.",
         "Quote cells that hold the delimiter (or a line break), or add the missing column names to the header."),
    Code("not-an-object", "error", "decoding", "The row is valid JSON but not an object.",
         "Each row must be a JSON object such as {\"messages\": [...]}."),
    # schema: the row does not have the shape of its format
    Code("missing-field", "error", "schema", "A field the format requires is absent.",
         "Add the field, name the right format with --format, or map your own column to it with --map "
         "(e.g. --map response=completion)."),
    Code("column-clash", "error", "schema", "--map renames a field to a name the row already has: one of the two "
         "values would be lost.",
         "Drop or rename one of the two fields, or map the column to another field."),
    Code("wrong-type", "error", "schema", "A field has the wrong JSON type (e.g. a number where text is expected).",
         "Give the field the type the format documents."),
    Code("null-content", "error", "schema", "A message's content is null.",
         "Give the message text, or drop the message."),
    Code("non-string-content", "error", "schema",
         "A message's content is neither a string nor a list of content parts (a number, an object).",
         "Write the content as a string, or as a list of text and image parts (docs/validation.md)."),
    Code("unknown-role", "error", "schema", "A message role is not system, user, assistant or tool.",
         "Map the role to one of the four; `validate --fix` maps the usual aliases (human, bot, model, ...; "
         "listed per row). For ShareGPT see the role table in docs/validation.md."),
    Code("role-wrong-case", "error", "schema", "A role is a known role in the wrong case (`User`).",
         "Write roles in lower case; `validate --fix --write-clean CLEAN.jsonl` does it (listed per row)."),
    Code("no-messages", "error", "schema", "The conversation has no messages.",
         "Drop the row or give it at least one user and one assistant turn."),
    # content
    Code("empty-content", "error", "content", "A message's content is the empty string.",
         "Drop the message or give it text; an empty turn teaches nothing, an empty assistant turn teaches the "
         "model to say nothing."),
    Code("whitespace-content", "error", "content", "A message's content is only whitespace.",
         "Drop the message or give it text."),
    Code("control-character", "error", "content",
         "Content holds a NUL or another control character (other than tab, newline, carriage return).",
         "Strip the control characters; they are usually an encoding accident."),
    Code("bidi-control", "warning", "content",
         "Content holds a bidirectional embedding, override or isolate (U+202A-U+202E, U+2066-U+2069): it "
         "reorders how the text is displayed, so a reviewer may not see what the model trains on.",
         "Remove it unless the text needs it (right-to-left text rarely does; the marks U+200E and U+200F are "
         "not flagged)."),
    # images (validation/checks/images.py; layouts in validation/content.py)
    Code("invalid-content-part", "error", "images",
         "A part of a content list is not a text or image part as instructkit reads them (not an object, a type "
         "other than text, image_url and image, or an image_url without its `url`).",
         "Write text as {\"type\": \"text\", \"text\": ...} and images as {\"type\": \"image_url\", "
         "\"image_url\": {\"url\": ...}} or {\"type\": \"image\"} (docs/validation.md, content parts); "
         "audio and video parts are not checked."),
    Code("image-count-mismatch", "error", "images",
         "The row's `images` are not as many as its placeholders (`{\"type\": \"image\"}` parts, else `<image>` in "
         "the text): each placeholder takes the next image, so an image would be missing or left over.",
         "Add the missing images, or the placeholders where they belong in the text."),
    Code("image-not-found", "error", "images", "A local image the row names does not exist.",
         "Fix the path; relative paths are read from the dataset's folder unless `--image-root` names another."),
    Code("image-unreadable", "error", "images",
         "An image cannot be read as an image: not a regular file, not an image format Pillow knows, or a damaged "
         "header.", "Replace the file (re-export it as PNG or JPEG), or drop the row."),
    Code("image-size", "error", "images",
         "An image has no pixels (0 wide or high) or more than Pillow's limit against decompression bombs "
         "(89 million pixels).", "Replace the image or resize it before training; processors resize anyway."),
    Code("extreme-aspect-ratio", "warning", "images",
         "An image is over 200 times as wide as it is high (or the reverse): Qwen2-VL's processor refuses it and "
         "others squash it to a line of pixels.", "Crop or pad the image."),
    Code("invalid-data-url", "error", "images", "A `data:` URL is not base64 (`data:image/png;base64,...`) or its "
         "base64 is damaged.", "Write the image's bytes base64-encoded after `;base64,`."),
    Code("parts-not-supported", "error", "images",
         "With --template: a message's content is a list of parts and the template cannot render it in that role "
         "(it fails on a list, writes the list as Python or JSON text, or drops the text: smollm2, chatml, llama3, "
         "qwen3, ...), several text parts where it writes the first only (llava-next's replies, gemma3's system "
         "turn), or an image the template writes nothing for (a text model's template, an image_url part where it "
         "reads image parts, an image outside a user turn).",
         "`validate --fix` joins text-only parts into one string; for images, name a template that takes them "
         "(`instructkit templates` lists what each one renders)."),
    Code("parts-required", "error", "images",
         "With --template: the template reads content as a list of parts only (smolvlm, idefics3, llava-next): a "
         "message whose content is a string would render as nothing.",
         "`validate --fix` wraps each string as one text part (`parts-wrapped`), or write the content as parts."),
    Code("remote-image", "warning", "images",
         "An image is named by a URL: it is not fetched (no network is used), so only that it is well formed is "
         "checked; training needs it reachable.",
         "Download the images and name their local paths, to check them and to train offline."),
    # structure of the conversation
    Code("no-assistant-turn", "error", "structure", "The conversation has no assistant message: nothing to train on.",
         "Add the assistant reply or drop the row."),
    Code("system-not-first", "error", "structure", "A system message appears after the first message.",
         "Move the system message to the start; most chat templates refuse it elsewhere."),
    Code("reply-in-prompt", "error", "structure", "`render --add-generation-prompt --final-turn refuse`: the "
         "conversation ends with the assistant's reply, so it is not an inference prompt.",
         "Leave the reply out of the row, or let render drop it (--final-turn drop, the default)."),
    Code("prompt-not-open", "error", "structure",
         "A prompt-only row (GRPO-style: a prompt to generate from) ends with an assistant or system turn, not the "
         "user's turn or a tool's result: the model would be asked to continue a reply that is already there.",
         "Drop the final reply from the prompt (`convert --to prompt-only` keeps it as the row's `answer`)."),
    Code("trailing-user-turn", "warning", "structure",
         "The conversation ends with a user turn, which trains nothing.",
         "Add the assistant reply or drop the last user turn."),
    Code("non-alternating", "warning", "structure",
         "Two user or two assistant turns in a row. An error with --template when that template refuses them.",
         "Merge the consecutive turns (`validate --fix` does it) or pick a template that allows them."),
    # tools: declared tools, calls and results (validation/checks/tools.py)
    Code("tool-without-call", "error", "tools",
         "A tool message answers no earlier, unanswered assistant tool call (no call before it, an unknown "
         "tool_call_id, a call of an earlier turn, or every call already has its result).",
         "Give the tool message the id of the assistant tool call it answers, right after that call."),
    Code("invalid-tools", "error", "tools",
         "The row's `tools` is not a list of tool definitions (nor the JSON text of one).",
         "Store tools as a list of `{\"type\": \"function\", \"function\": {name, description, parameters}}`."),
    Code("invalid-tool-schema", "error", "tools",
         "A declared tool has no name, or its `parameters` is not a valid JSON Schema (the message says where).",
         "Fix the schema at the reported place; templates print it to the model as it is."),
    Code("duplicate-tool-name", "error", "tools", "Two tools of the row share a name: a call cannot say which.",
         "Rename or drop one of them."),
    Code("no-tools-declared", "warning", "tools",
         "The row has tool calls but declares no `tools`: the rendered prompt never shows the model what it may "
         "call.", "Add the row's tool definitions under `tools`."),
    Code("unknown-tool", "error", "tools", "A call names a tool the row does not declare.",
         "Declare the tool under `tools`, or fix the name of the call."),
    Code("invalid-arguments", "error", "tools",
         "A call's `function.arguments` is neither an object nor the JSON text of one.",
         "Write arguments as a JSON object (or a string holding one)."),
    Code("arguments-mismatch", "error", "tools",
         "A call's arguments fail the tool's `parameters` schema (required, types, enums, additionalProperties); "
         "the path ends in a JSON pointer into the arguments (`...arguments#/unit`).",
         "Fix the argument at the pointer, or the tool's schema if the call is right."),
    Code("duplicate-call-id", "error", "tools", "Two tool calls of the conversation share an id.",
         "Give each call its own id; results find their call by it."),
    Code("call-answered-twice", "error", "tools", "A second tool message answers a call that already has its result.",
         "Drop the repeated result or point it at the call it answers."),
    Code("tool-name-mismatch", "error", "tools",
         "A tool message's `name` differs from the function of the call it answers.",
         "Name the result after the function called, or fix its tool_call_id."),
    Code("parallel-calls-disallowed", "error", "tools",
         "An assistant turn makes several calls in a row that sets `parallel_tool_calls: false` (OpenAI's "
         "fine-tuning layout): the data contradicts itself.",
         "Split the calls over turns, or set parallel_tool_calls to true."),
    Code("unanswered-call", "warning", "tools",
         "The conversation moves on (a user or assistant turn) before a tool call gets its result.",
         "Add the tool message with the result; a conversation may end right after a call."),
    # reasoning traces (validation/checks/reasoning.py)
    Code("unclosed-think", "error", "reasoning",
         "An assistant reply opens a `<think>` block that never closes (often a trace cut by a length limit).",
         "Close the block before the answer, or drop the row: it would train as reasoning with no answer."),
    Code("unbalanced-think", "error", "reasoning",
         "An assistant reply holds more than one `<think>` or `</think>`, or `</think>` before `<think>`.",
         "Keep one think block at the start of the reply; templates split the reply at the first `</think>`."),
    Code("text-before-think", "warning", "reasoning",
         "Text comes before the think block of a reply: templates that split the reply at the block drop it.",
         "Move the text after the block, into the answer."),
    Code("reasoning-twice", "error", "reasoning",
         "A reply holds its reasoning twice: in two of `reasoning_content` / `reasoning` / `thinking`, or in one of "
         "them and as a think block in its content.",
         "Keep one: the template renders one and trains the other as answer text."),
    Code("reasoning-dropped", "warning", "template",
         "With --template: the row's reasoning is in a field the template does not print (e.g. reasoning_content "
         "for deepseek-r1-distill or chatml); the message says how many characters would not be trained.",
         "`--fix` moves the reasoning into the content as a think block, which every template trains."),
    Code("history-reasoning-dropped", "warning", "template",
         "With --template: the template drops the reasoning of replies that have a user turn after them "
         "(nemotron-3, deepseek-v3, glm4-moe, lfm2.5: what their models see of history), so those replies train as "
         "answers without their reasoning and the model learns to answer without thinking.",
         "Split the conversation into one row per reply (each row ending with its reply), or train with a template "
         "whose training variant keeps history reasoning (qwen3, qwen3.5)."),
    Code("empty-think-supervised", "warning", "template",
         "With --template: the template puts an empty `<think></think>` block in the trained span of replies "
         "without reasoning (qwen3's training variant): the model learns to skip thinking.",
         "Add reasoning to those replies, train them with a template that does not insert the block, or mark "
         "them `train: false`."),
    Code("generation-prompt-trained", "warning", "template",
         "With --template: the trained span of these replies begins inside the generation prompt, holding a think "
         "tag inference writes itself (deepseek-r1-distill's `<｜Assistant｜><think>\\n`, qwen3-nothink's empty "
         "block).",
         "Usually harmless (the model learns text it is always given); choose the template that matches the data "
         "(thinking replies with qwen3, not qwen3-nothink)."),
    # preference pairs (validation/readers/pairs.py: DPO and KTO data)
    Code("completion-not-assistant", "error", "preference",
         "A reply (chosen, rejected or completion) begins with a turn that is not the assistant's (a rejected "
         "reply given role user is a known slip): DPO would compare something other than two replies.",
         "Give every reply the assistant role."),
    Code("empty-completion", "error", "preference",
         "A reply holds no message (an empty list), or an implicit pair's conversation ends where the shared "
         "prompt ends.",
         "Give the pair two replies, or drop the row."),
    Code("identical-pair", "error", "preference",
         "Chosen and rejected are the same reply: the pair teaches nothing (DPO's loss has no gradient for it).",
         "Drop the row, or give it a different rejected reply."),
    Code("near-identical-pair", "warning", "preference",
         "Chosen and rejected differ only in case or whitespace (compared after the fold duplicates use).",
         "Check the pair: a preference about formatting the reader cannot see is rarely intended."),
    Code("no-shared-prompt", "error", "preference",
         "The two conversations of an implicit pair (or transcripts) start with different messages: there is "
         "no prompt they share.",
         "Make both conversations start with the same prompt turns, or use the explicit `prompt` field."),
    Code("prompt-mismatch", "error", "preference",
         "The two conversations of an implicit pair differ first in a user or system turn: the prompt is not the "
         "same in both, so the replies do not answer the same thing.",
         "Keep the prompt turns identical in both conversations; only the final replies may differ."),
    Code("not-a-transcript", "error", "preference",
         "An hh-text field is not a '\n\nHuman: … \n\nAssistant: …' transcript.",
         "Start each transcript with '\n\nHuman: ' and mark every turn, or use the `preference` format."),
    Code("reply-shares-start", "warning", "preference",
         "The two final replies of a transcript pair begin with the same text: TRL's extract_prompt, which cuts "
         "text pairs at their longest common prefix, would move that text into the prompt (instructkit cuts at "
         "the last Assistant turn).",
         "Nothing to fix in the data when instructkit prepares it; convert to `preference` before handing it to "
         "other tools."),
    Code("boundary-merge", "warning", "preference",
         "Audit: the prompt's last tokens merge with the reply's first (the tokenizer spells the joint differently "
         "from the prompt alone): training sees the prompt end otherwise than inference sends it; TRL cuts the "
         "prompt where the two part.",
         "End prompts on a token boundary (the template's generation prompt usually does), or accept the small "
         "mismatch the message shows."),
    Code("prompt-fills-max-length", "error", "preference",
         "Audit: the prompt alone is max_length tokens or more: no reply token is left, and TRL leaves the pair out.",
         "Raise max_length, shorten the prompt, or drop the row."),
    Code("prompt-too-long", "warning", "preference",
         "Audit: the prompt is longer than max_prompt_length tokens: training keeps only its last tokens (its start, "
         "often the system prompt, is cut).",
         "Raise max_prompt_length, shorten the prompt, or drop the row."),
    Code("reply-truncated", "warning", "preference",
         "Audit: truncation at max_length cuts this reply: its end and end of turn are not compared.",
         "Raise max_length or shorten the reply."),
    Code("identical-after-truncation", "error", "preference",
         "Audit: cut at max_length, chosen and rejected are the same tokens: the pair teaches nothing.",
         "Raise max_length so that the replies differ within it, or drop the row."),
    # structured outputs (validate --response-schema)
    Code("response-not-json", "error", "structured output",
         "With --response-schema: an assistant reply in scope is not JSON.",
         "Make the reply the JSON document itself (no prose or code fences around it)."),
    Code("response-schema-mismatch", "error", "structured output",
         "With --response-schema: an assistant reply fails the schema; the path ends in a JSON pointer into the "
         "reply (`...content#/price`).",
         "Fix the reply at the pointer, or the schema if the reply is right."),
    Code("role-not-supported", "error", "template", "The chosen template refuses this role (e.g. system for gemma).",
         "Fold the system prompt into the first user turn, or choose another template."),
    Code("tools-not-rendered", "error", "template",
         "The chosen template does not print the row's tool list, or does not render its tool calls (probed from "
         "the template: `instructkit templates`): training would see the conversation without them.",
         "Choose a template that renders tools (e.g. qwen2.5), or drop the tools from these rows."),
    Code("too-many-calls", "error", "template",
         "An assistant turn makes more calls than the chosen template renders in one turn.",
         "Split the calls over consecutive turns, or choose a template that takes parallel calls."),
    Code("arguments-form", "error", "template",
         "A call's arguments are in a form the chosen template garbles: a JSON string it double-encodes, or an "
         "object it prints as a Python repr.",
         "`validate --fix --template T` (or `convert --fix`) rewrites the arguments in the form the template takes."),
    Code("template-refused", "error", "template",
         "The template raised an error for this conversation (its own raise_exception).",
         "Read the template's message: usually a role or an order of turns it does not accept."),
    # template and length
    Code("special-token-in-content", "error", "template",
         "Content contains a special token of the template (e.g. <|im_end|>): it would forge a turn boundary.",
         "Remove or escape the token in the text."),
    Code("too-long", "warning", "length",
         "The conversation is longer than --max-length (tokens with a tokenizer, else characters).",
         "Drop or split the row, or raise max_length; training truncates it otherwise."),
    # supervision: what training really learns (instructkit audit, with the tokenizer and template)
    Code("vision-not-supported", "error", "supervision",
         "Audit, and train with a text model: the conversation holds images, which a text model would drop while "
         "training their placeholders as text, so the row is left out.",
         "Train a vision-language model (a model folder whose config has a vision_config, with a template that "
         "marks its replies: docs/training.md), or train the text rows only."),
    Code("response-not-supervised", "error", "supervision",
         "No token of this assistant turn is in the training mask (the template marks no generation span, or "
         "the response marker is not found): the turn trains nothing.",
         "Use a template with {% generation %} markers (every registry template has them) or fix the marker."),
    Code("end-of-turn-not-supervised", "error", "supervision",
         "The end-of-turn token after an assistant turn is outside the mask: the model never learns to stop.",
         "Use a template whose generation span includes the end-of-turn token (`instructkit templates check`)."),
    Code("response-truncated", "warning", "supervision",
         "Truncation at max_length cuts this assistant turn, partly or wholly (the message says which).",
         "Raise max_length, split the conversation, or use over_length: truncate-prompt / drop."),
    Code("reasoning-truncated", "warning", "supervision",
         "Truncation at max_length cuts this assistant turn inside its think block: what is trained ends in "
         "reasoning, with no </think>, no answer and no end of turn (the model learns to stop mid-thought).",
         "Raise max_length, shorten the reasoning, or use over_length: drop (or truncate-prompt for "
         "multi-turn rows)."),
    Code("no-trained-turn", "warning", "supervision",
         "Every assistant turn of the conversation is marked `train: false`: it trains nothing.",
         "Mark the turn(s) to learn `train: true` (or remove the flag), or leave the row out."),
    Code("truncated-to-nothing", "error", "supervision",
         "Truncation at max_length leaves no trained token in the conversation.",
         "Drop the row, raise max_length, or use over_length: truncate-prompt to cut the oldest turns first."),
    Code("over-length", "error", "supervision",
         "The conversation is longer than max_length and the over-length policy is `raise`.",
         "Shorten or drop the row, or choose over_length: truncate / truncate-prompt / drop."),
    Code("call-not-supervised", "error", "supervision",
         "A tool call of an assistant turn is not inside that turn's trained span: the model never learns to make it.",
         "Use a template whose training variant puts the calls inside {% generation %} (qwen2.5, llama3.1, "
         "llama3.2 do)."),
    Code("tool-result-supervised", "error", "supervision",
         "A tool result is inside a trained span: the model would learn to write the tool's output itself.",
         "Use a template whose training variant keeps tool turns outside {% generation %}."),
    Code("double-bos", "error", "supervision",
         "The token ids start with two BOS tokens (the template writes one and something adds another).",
         "Let only the template write the BOS; tokenize rendered text with add_special_tokens=False."),
    Code("missing-bos", "warning", "supervision",
         "The template writes a BOS the tokenizer does not know as a token: it becomes ordinary text pieces.",
         "Pick the template of this model's family, or add the token to the tokenizer."),
    # whole-dataset checks
    Code("duplicate", "warning", "dataset", "The conversation repeats an earlier row exactly.",
         "Drop the duplicate; repeats overweight one example."),
    Code("near-duplicate", "warning", "dataset",
         "The conversation repeats an earlier row after case and whitespace folding.",
         "Drop the repeat unless the differences matter."),
    Code("fuzzy-duplicate", "error", "dataset",
         "With --near-dup: the conversation is in the near-duplicate cluster of an earlier row (MinHash LSH "
         "over character shingles); the message names the cluster's first row and its size.",
         "Keep one row per cluster: `--write-clean` keeps the first; raise --near-dup's threshold if the rows "
         "differ in what matters."),
    Code("benchmark-overlap", "error", "dataset",
         "With --decontaminate: a message shares a run of --ngram words (13 by default, after case folding, "
         "punctuation dropped) with a benchmark row: training on it leaks the test set.",
         "Drop the row (`--write-clean` does); scores on that benchmark are not to be trusted while it stays."),
    Code("one-label", "warning", "dataset",
         "Every valid unpaired row has the same label (row 0: the dataset as a whole): KTO learns from desirable "
         "and undesirable replies both.",
         "Add rows of the other label (a preference pair gives one of each: `convert --to unpaired`)."),
    Code("label-imbalance", "warning", "dataset",
         "Desirable and undesirable rows are out of the balance TRL's KTOTrainer recommends for equal weights "
         "(desirable between 1 and 1.33 times undesirable; row 0: the dataset as a whole).",
         "Set `kto.desirable_weight` or `kto.undesirable_weight` (not both) in the range the message gives, or "
         "rebalance the rows."),
    # conversion
    Code("cannot-convert", "error", "conversion",
         "The target format cannot hold this conversation (e.g. multi-turn into alpaca).",
         "Choose a target format that can hold it (messages, sharegpt, prompt-completion)."),
]}


# What `--fix` changes (listed in the report's `fixes`, never silently).
FIXES: dict[str, str] = {
    "role-mapped": "A role alias or wrong-case role becomes its role (`User`→`user`, `gpt`/`bot`/`model`→`assistant`, "
                   "`function`/`observation`→`tool`; ShareGPT rows keep ShareGPT names).",
    "system-folded": "With a --template that has no system role: the system prompt is put in front of the first "
                     "user turn, separated by a blank line.",
    "turns-merged": "Consecutive user (or assistant) turns become one, joined by a blank line.",
    "whitespace-stripped": "With a --template that trims content: edge whitespace is removed, so the data says what "
                           "the model sees.",
    "arguments-converted": "With a --template that renders only one form of tool-call arguments: JSON text becomes "
                           "the object it holds (or an object its JSON text), so the template prints JSON.",
    "reasoning-inlined": "With a --template that does not print the row's reasoning field (reasoning_content for "
                         "deepseek-r1-distill or chatml): the reasoning moves into the content as a `<think>` block.",
    "parts-joined": "With a --template that takes no content parts in the message's role (smollm2, chatml, llama3, "
                    "...): a content of text parts only becomes one string, the texts joined with nothing between "
                    "them (as the templates that take parts write them); where it writes the first text part only "
                    "(llava-next's replies, gemma3's system turn), they become one text part. A content holding an "
                    "image is left as it is.",
    "parts-wrapped": "With a --template that reads content parts only (smolvlm, idefics3): a string content "
                     "becomes one text part holding it.",
}


# Codes about training, not about the conversation: an inference prompt (`render --add-generation-prompt`)
# has no reply to train by design, and ends with the user's turn.
TRAINING_ONLY = frozenset({"no-assistant-turn", "trailing-user-turn", "no-trained-turn"})


def severity(code: str) -> Severity:
    """The documented severity of `code`."""
    return CATALOGUE[code].severity


def _cell(text: str) -> str:
    """Text for a Markdown table cell: a `|` (as in `<|im_end|>`) would end the cell."""
    return text.replace("|", "\\|")


def markdown() -> str:
    """The catalogue as the Markdown page `docs/errors.md`."""
    lines = ["# Error codes", "",
             "Every problem `instructkit validate` reports carries one of these stable codes. "
             "Errors make the row invalid (exit 1, excluded by `--write-clean`); warnings are "
             "reported but keep the row. Exit 2 means the input could not be read at all.", "",
             "Generated from `validation/codes.py` by `python -m validation.codes > docs/errors.md`.", ""]
    group = None
    for code in CATALOGUE.values():
        if code.group != group:
            group = code.group
            lines += ["", f"## {group}", "", "| code | severity | meaning | what to do |", "|---|---|---|---|"]
        lines.append(f"| `{code.name}` | {code.severity} | {_cell(code.meaning)} | {_cell(code.fix)} |")
    lines += ["", "## fixes (`validate --fix`, `convert --fix`)", "",
              "Changes `--fix` makes, each listed per row under `fixes` in the report. Nothing changes without "
              "the flag.", "", "| code | what changes |", "|---|---|"]
    lines += [f"| `{name}` | {_cell(meaning)} |" for name, meaning in FIXES.items()]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(markdown(), end="")
