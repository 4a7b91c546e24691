"""Chat template registry: render conversations in a model's exact prompt format, with the
character spans of what the model learns to produce.

Example:
    >>> from templating import get_template
    >>> get_template("chatml").render([{"role": "user", "content": "Hi"}], add_generation_prompt=True).text
    '<|im_start|>user\\nHi<|im_end|>\\n<|im_start|>assistant\\n'
"""

from templating.embedded import load_tokenizer
from templating.environment import TemplateError
from templating.parse import compare_template, detect_template, parse
from templating.registry import ChatTemplate, get_template, list_templates, register_template, render_tokens, \
    render_tokens_batch, template_of_tokenizer, unregister_template
from templating.spec import Rendered, TemplateSpec
from templating.supervision.dataset import audit
from templating.tokens import Tokenized, tokenize_rendered

__all__ = ["ChatTemplate", "Rendered", "TemplateError", "TemplateSpec", "Tokenized", "audit", "compare_template",
           "detect_template", "get_template", "list_templates", "load_tokenizer", "parse", "register_template",
           "render_tokens", "render_tokens_batch", "template_of_tokenizer", "tokenize_rendered", "unregister_template"]
