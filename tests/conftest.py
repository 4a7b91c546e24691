"""Shared fixtures: the real-data folder beside the checkout, and a CLI runner."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

import pytest

import instructkit

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data"
GSM8K = SHARED / "gsm8k" / "test.jsonl"
DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture
def gsm8k() -> Path:
    if not GSM8K.exists():
        pytest.skip(f"real data not found at {GSM8K} (the ../shared folder is absent)")
    return GSM8K


class CliResult:
    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err

    def json(self) -> dict:
        return json.loads(self.out)


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]):
    """Run `instructkit ARGS` in-process; returns exit code, stdout and stderr."""

    def run(*args: str) -> CliResult:
        try:
            code = instructkit.main([str(a) for a in args])
        except SystemExit as exc:  # argparse exits for bad arguments
            code = int(exc.code or 0)
        captured = capsys.readouterr()
        assert "Traceback" not in captured.err
        return CliResult(code, captured.out, captured.err)

    return run


def written_by_generator(example: Path, generator: str) -> str:
    """What `examples/<generator>` writes to `example` (its `rows()`, one JSON object a line): the
    committed example must be exactly that."""
    import importlib.util
    import json

    spec = importlib.util.spec_from_file_location(generator.removesuffix(".py"), example.with_name(generator))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in module.rows())


@pytest.fixture(scope="session")
def smollm2_tokenizer():
    """The real SmolLM2-135M-Instruct tokenizer (from the embedded GGUF, cached after the first build)."""
    from templating.embedded import load_tokenizer

    return load_tokenizer()


# --- counting opens of a file (tests/validation/readers/test_source.py, tests/training/test_run.py) ---------

_WATCHED: dict[str, int] = {}  # path -> the descriptor each open of it is tallied on (one byte an open)


def _hook(event: str, args: tuple) -> None:
    if event == "open" and _WATCHED and isinstance(args[0], (str, bytes, os.PathLike)):
        fd = _WATCHED.get(os.path.realpath(os.fsdecode(args[0])))
        if fd is not None:
            os.write(fd, b"o")


sys.addaudithook(_hook)


@pytest.fixture
def opens():
    """`opens(path)` starts counting opens of `path` (in this process and forked children);
    calling the result gives the count so far."""
    tallies = []

    def watch(path):
        tally = tempfile.TemporaryFile()
        tallies.append(tally)
        _WATCHED[os.path.realpath(path)] = tally.fileno()
        return lambda: os.fstat(tally.fileno()).st_size

    yield watch
    _WATCHED.clear()
    for tally in tallies:
        tally.close()


@pytest.fixture(autouse=True)
def registry_restored():
    """Whatever a test registers in the template registry is unregistered after it (and a
    template it replaced comes back), so no test sees another's templates."""
    from templating import registry

    before = dict(registry._TEMPLATES)
    yield
    for name, spec in list(registry._TEMPLATES.items()):
        if name not in before:
            registry.unregister_template(name)
        elif spec is not before[name]:
            registry.unregister_template(name)
            registry._add(before[name])
