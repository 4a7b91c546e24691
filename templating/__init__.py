"""Chat template registry: render conversations in a model's exact prompt format, with the
character spans of what the model learns to produce.

Example:
    >>> from templating import get_template
    >>> get_template("chatml").render([{"role": "user", "content": "Hi"}], add_generation_prompt=True).text
    '<|im_start|>user\\nHi<|im_end|>\\n<|im_start|>assistant\\n'
"""

from templating import builtins as _builtins  # noqa: F401  (registers the built-in templates)
from templating.environment import TemplateError
from templating.registry import ChatTemplate, Rendered, TemplateSpec, get_template, list_templates, register_template

__all__ = ["ChatTemplate", "Rendered", "TemplateError", "TemplateSpec", "get_template", "list_templates",
           "register_template"]
