"""One exception tree (validation/errors.py): old import paths, KeyError compatibility, the CLI boundary."""

from __future__ import annotations

import pytest

from validation import errors


def test_every_public_exception_is_in_the_tree_and_still_importable_where_it_was():
    from templating import TemplateError
    from templating.embedded import ModelNotFound
    from templating.environment import TemplateLimit
    from training.config import ConfigError
    from training.fingerprint import NoFingerprint
    from validation.errors import InvalidDataset, PushFailed
    from training.prepare import MaskMismatch
    from training.rundir import UnfinishedRun
    from validation import CannotConvert, InputError, InvalidRow

    old = [TemplateError, TemplateLimit, ModelNotFound, ConfigError, NoFingerprint, InvalidDataset, PushFailed,
           MaskMismatch, UnfinishedRun, CannotConvert, InputError, InvalidRow]
    assert all(cls is getattr(errors, cls.__name__) and issubclass(cls, errors.InstructkitError) for cls in old)
    assert issubclass(ConfigError, (errors.InputError, ValueError)) and issubclass(ModelNotFound, FileNotFoundError)


def test_an_unknown_name_is_an_input_error_and_a_key_error_that_reads_as_its_message():
    from templating import get_template
    from validation import get_format

    for lookup, says in (
            (lambda: get_format("chat"), "unknown format 'chat'; known formats: alpaca, hh-text, messages, "
                                         "preference, preference-implicit, prompt-completion, qa, sharegpt, text, "
                                         "unpaired"),
            (lambda: get_format("sharegtp"), "unknown format 'sharegtp'; did you mean 'sharegpt'?"),
            (lambda: get_template("nope"), "unknown template 'nope'; known templates: alpaca, chatml, "),
            (lambda: get_template("smolm2"), "unknown template 'smolm2'; did you mean 'smollm2'?"),
            (lambda: get_template("lama3"), "unknown template 'lama3'; did you mean 'llama3'?")):
        with pytest.raises(KeyError) as raised:
            lookup()
        assert isinstance(raised.value, errors.UnknownName) and str(raised.value).startswith(says)


def test_the_cli_boundary_is_one_isinstance_on_the_tree():
    import instructkit

    assert all(instructkit._is_user_error(cls("x")) for cls in (errors.TemplateError, errors.TemplateLimit,
                                                                 errors.ConfigError, errors.UnknownName))
    assert not instructkit._is_user_error(KeyError("x")) and not instructkit._is_user_error(ValueError("x"))
