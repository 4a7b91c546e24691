"""One exception tree (validation/errors.py draws it; templating/errors.py and training/errors.py
hold their parts): where each lives, KeyError compatibility, the CLI boundary."""

from __future__ import annotations

import pytest

from validation import errors


def test_every_public_exception_is_in_the_one_tree_and_in_its_packages_errors_module():
    import templating
    import training
    import validation
    from templating import errors as templating_errors
    from training import errors as training_errors

    homes = {validation.errors: ["InputError", "UnknownName", "InvalidRow", "CannotConvert", "RowProblems",
                                 "PushFailed"],
             templating_errors: ["TemplateError", "TemplateLimit", "ModelNotFound"],
             training_errors: ["ConfigError", "UnfinishedRun", "NoFingerprint", "InvalidDataset", "MaskMismatch"]}
    for module, names in homes.items():
        for name in names:
            cls = getattr(module, name)
            assert cls.__module__ == module.__name__ and issubclass(cls, errors.InstructkitError), name
            assert name in errors.__doc__  # the tree in validation/errors.py draws every one
    assert templating.TemplateError is templating_errors.TemplateError
    assert training.ConfigError is training_errors.ConfigError
    assert training_errors.PushFailed is errors.PushFailed  # (training raises it too: a model saved, not pushed)
    assert validation.CannotConvert is errors.CannotConvert and validation.RowProblems is errors.RowProblems
    assert issubclass(training_errors.ConfigError, (errors.InputError, ValueError))
    assert issubclass(templating_errors.ModelNotFound, (errors.InputError, FileNotFoundError))
    assert issubclass(training_errors.UnfinishedRun, training_errors.ConfigError)
    assert issubclass(templating_errors.TemplateLimit, templating_errors.TemplateError)


def test_an_unknown_name_is_an_input_error_and_a_key_error_that_reads_as_its_message():
    from templating import get_template
    from validation import get_format

    for lookup, says in (
            (lambda: get_format("chat"), "unknown format 'chat'; known formats: alpaca, hh-text, messages, "
                                         "preference, preference-implicit, prompt-completion, prompt-only, qa, "
                                         "sharegpt, text, unpaired"),
            (lambda: get_format("sharegtp"), "unknown format 'sharegtp'; did you mean 'sharegpt'?"),
            (lambda: get_template("nope"), "unknown template 'nope'; known templates: alpaca, chatml, "),
            (lambda: get_template("smolm2"), "unknown template 'smolm2'; did you mean 'smollm2'?"),
            (lambda: get_template("lama3"), "unknown template 'lama3'; did you mean 'llama3'?")):
        with pytest.raises(KeyError) as raised:
            lookup()
        assert isinstance(raised.value, errors.UnknownName) and str(raised.value).startswith(says)


def test_the_cli_boundary_is_one_isinstance_on_the_tree():
    import instructkit
    from templating.errors import TemplateError, TemplateLimit
    from training.errors import ConfigError

    assert all(instructkit._is_user_error(cls("x")) for cls in (TemplateError, TemplateLimit, ConfigError,
                                                                 errors.UnknownName))
    assert not instructkit._is_user_error(KeyError("x")) and not instructkit._is_user_error(ValueError("x"))
