"""validation/validate.py's `read` and `to_dataset`: valid conversations out, the first invalid row raised."""

from __future__ import annotations

import pytest

from validation import InvalidRow, read, to_dataset


GOOD = [{"messages": [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": f"a{i}"}],
         "id": i} for i in range(3)]


def test_read_raises_on_the_first_invalid_row_with_its_path():
    rows = [GOOD[0], {"messages": [{"role": "user", "content": None}, {"role": "assistant", "content": "x"}]}]
    with pytest.raises(InvalidRow, match=r"^row 2, messages\[0\]\.content: null-content: content is null$"):
        list(read(rows))


def test_to_dataset_holds_the_valid_conversations(tmp_path):
    rows = [*GOOD, {"messages": [{"role": "user", "content": "no reply"}]}]
    dataset = to_dataset(rows)
    assert dataset.num_rows == 3
    assert dataset[0]["messages"] == GOOD[0]["messages"]
