"""Validate, read and convert chat datasets; the canonical `Conversation` model.

Example:
    >>> from validation import validate
    >>> validate([{"messages": [{"role": "user", "content": "hi"},
    ...                         {"role": "assistant", "content": "hello"}]}]).ok
    True
"""

from validation.codes import CATALOGUE
from validation.errors import CannotConvert, InstructkitError, RowProblems, UnknownName
from validation.convert import convert
from validation.readers.formats import FORMAT_NAMES, detect, get_format
from validation.errors import InputError
from validation.readers.files import read_records
from validation.outputs import write_rows
from validation.models import Conversation, FunctionCall, Message, Role, ToolCall
from validation.report import Issue, Report
from validation.checks.rules import CHATML, HasRules, TemplateRules
from validation.readers.source import Dataset, open_dataset
from validation.statistics.conversations import Stats, stats
from validation.validate import InvalidRow, read, to_dataset, validate

__all__ = [
    "CATALOGUE", "CHATML", "FORMAT_NAMES", "CannotConvert", "Conversation", "Dataset", "FunctionCall", "HasRules",
    "InputError", "InstructkitError", "InvalidRow", "Issue", "Message", "Report", "Role", "RowProblems", "Stats",
    "TemplateRules", "ToolCall", "UnknownName", "convert", "detect", "get_format", "open_dataset", "read",
    "read_records", "stats", "to_dataset", "validate", "write_rows",
]
