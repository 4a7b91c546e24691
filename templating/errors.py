"""templating's exceptions, in instructkit's one tree (drawn in validation/errors.py):

    InstructkitError
    ├── InputError
    │   └── ModelNotFound        (also a FileNotFoundError) a model or tokenizer that cannot be loaded
    └── TemplateError            (also a ValueError) a template refused a conversation or failed
        └── TemplateLimit        a render past its time or size limit: the template is broken
"""

from __future__ import annotations

from validation.errors import InputError, InstructkitError


class TemplateError(InstructkitError, ValueError):
    """A template refused a conversation (its `raise_exception`) or failed to render."""


class TemplateLimit(TemplateError):
    """A render went past a limit (time, size, recursion): the template is broken, whatever the
    conversation, so checks stop at once instead of counting it as a refusal."""


class ModelNotFound(InputError, FileNotFoundError):
    """A model or tokenizer source that cannot be loaded; the message says what to do."""
