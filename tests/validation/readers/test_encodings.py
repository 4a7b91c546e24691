"""Files that are not UTF-8: the error names the probable encoding and both ways out; --encoding
reads them (through a UTF-8 copy, removed after), with every command."""

from __future__ import annotations

import gzip

import pytest

from validation import InputError, open_dataset, validate

KOREAN = ("question,answer\n오늘 날씨 어때요?,맑고 따뜻해요.\n"
          "김치찌개 만드는 법?,김치와 돼지고기를 볶은 뒤 물을 붓고 끓여요.\n")


@pytest.fixture
def excel_csv(tmp_path):
    path = tmp_path / "설문.csv"
    path.write_bytes(KOREAN.encode("cp949"))
    return path


def test_a_cp949_csv_is_named_with_the_ways_to_read_it(cli, excel_csv):
    result = cli("validate", str(excel_csv))
    assert (result.code, result.err) == (2, f"instructkit validate: error: {excel_csv}: not UTF-8 text (invalid start "
                                            "byte at byte 16); it is probably cp949: read it with --encoding cp949, or "
                                            "convert it once: `iconv -f CP949 -t UTF-8 설문.csv > 설문.utf8.csv`\n")


def test_encoding_reads_it_with_every_command(cli, excel_csv, tmp_path):
    result = cli("validate", str(excel_csv), "--encoding", "cp949", "--json")
    assert result.code == 0 and (result.json()["path"], result.json()["valid"]) == (str(excel_csv), 2)
    out = tmp_path / "out.jsonl"
    assert cli("convert", str(excel_csv), "--encoding", "cp949", "--to", "messages", "-o", str(out)).code == 0
    assert '"맑고 따뜻해요."' in out.read_text(encoding="utf-8")
    stats = cli("stats", str(excel_csv), "--encoding", "cp949", "--json")
    assert stats.json()["rows"] == 2


def test_a_compressed_file_is_read_in_its_encoding_and_the_copy_is_removed(tmp_path):
    path = tmp_path / "data.csv.gz"
    path.write_bytes(gzip.compress(KOREAN.encode("euc-kr")))
    data = open_dataset(path, encoding="euc-kr")
    copy = data.path
    assert copy.name == "data.csv" and data.name == str(path)
    assert [r.data["answer"] for r in data.records()][0] == "맑고 따뜻해요."
    data.close()
    assert not copy.exists()


@pytest.mark.parametrize(("encoding", "message"), [
    ("klingon", "--encoding klingon: no such encoding (e.g. cp949, euc-kr, shift_jis, latin-1)"),
    ("ascii", "not ascii text (ordinal not in range(128) at byte 16)"),
])
def test_an_encoding_that_cannot_read_the_file_is_one_line(excel_csv, encoding, message):
    with pytest.raises(InputError) as caught:
        validate(open_dataset(excel_csv, encoding=encoding))
    assert str(caught.value).endswith(message)


def test_utf8_needs_no_copy(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text(KOREAN, encoding="utf-8")
    with open_dataset(path, encoding="UTF-8") as data:
        assert data.path == path
