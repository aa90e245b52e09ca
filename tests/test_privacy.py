import duckdb
import pytest

from coklit_dq.privacy import mask_id, register_mask_macro


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("3204054107880001", "320405********01"),
        ("320405410788000", "320405*******00"),  # 15 digits: still only 6 + 2 shown
        ("12345678", "********"),  # too short to keep both ends
        ("", ""),
        (None, None),
    ],
)
def test_mask_keeps_first_six_and_last_two(value, masked):
    assert mask_id(value) == masked


def test_masking_can_be_disabled():
    assert mask_id("3204054107880001", enabled=False) == "3204054107880001"


def test_sql_macro_masks_like_python():
    con = duckdb.connect()
    register_mask_macro(con)
    values = ["3204054107880001", "320405410788000", "12345678", "", None]
    got = [con.execute("SELECT mask_id(?::VARCHAR)", [v]).fetchone()[0] for v in values]
    assert got == [mask_id(v) for v in values]


def test_sql_macro_works_on_a_read_only_warehouse(tmp_path):
    from coklit_dq import warehouse

    path = tmp_path / "w.duckdb"
    warehouse.connect(path).close()
    con = warehouse.connect(path, read_only=True)
    assert con.execute("SELECT mask_id('3204054107880001')").fetchone()[0] == "320405********01"
    con.close()


def test_group_ids_are_keyed_per_warehouse_and_stable_across_connections(tmp_path):
    import hashlib

    from coklit_dq import warehouse

    nik = "3204054107880001"
    path = tmp_path / "w.duckdb"
    con = warehouse.connect(path)
    gid = con.execute("SELECT kelompok_id(?)", [nik]).fetchone()[0]
    con.close()
    assert len(gid) == 12 and gid not in hashlib.md5(nik.encode()).hexdigest()
    assert gid not in hashlib.sha256(nik.encode()).hexdigest()  # not an unkeyed digest
    again = warehouse.connect(path, read_only=True)
    assert again.execute("SELECT kelompok_id(?)", [nik]).fetchone()[0] == gid
    again.close()
    other = warehouse.connect(tmp_path / "other.duckdb")
    assert other.execute("SELECT kelompok_id(?)", [nik]).fetchone()[0] != gid
    other.close()


@pytest.mark.parametrize(
    "text",
    [
        "3201 0124 0963 0001", "3201.0124.0963.0001", "3201-0124-0963-0001",
        "3201\u00a00124\u00a00963\u00a00001", "3201  0124  0963  0001", "3201/0124/0963/0001",
        "32010124 09630001", "3 2 0 1 0 1 2 4 0 9 6 3 0 0 0 1", "No.3201 0124 0963 0001",
    ],
)  # fmt: skip
def test_a_nik_written_in_groups_is_masked(text: str) -> None:
    from coklit_dq.privacy import mask_digit_runs

    shown = mask_digit_runs(f"NIK {text} (KK)", 11)
    assert shown == "NIK " + text[: text.index("3")] + "320101********01 (KK)"


@pytest.mark.parametrize(
    "text",
    [
        "TPS desa ini: 1, 10, 11, 12, 13, 14, 15, 16, 17, 2, 3, 4.",
        "terakhir sinkron 2024-06-25 04:18 WIB, ekspor dibuat 2024-07-02 23:50 WIB",
        "telepon +62 812 3456 7890", "RT 001 RW 002 No. 15",
        "Akun Pantarlih PL3101011001-1 (TPS 1)",
    ],
)  # fmt: skip
def test_the_pipelines_own_numbers_are_not_taken_for_a_nik(text: str) -> None:
    from coklit_dq.privacy import mask_digit_runs

    assert mask_digit_runs(text, 11) == text
