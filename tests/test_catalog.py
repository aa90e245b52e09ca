import shutil
from pathlib import Path

import pytest
import yaml

from coklit_dq.config import EXPECTATIONS_DIR, resolve_settings
from coklit_dq.contract import TINGKAT
from coklit_dq.rules.catalog import CatalogError, load_catalog, load_families, load_rule
from coklit_dq.rules.engine import periksa_of, rules_to_run

# reports-v1 "The catalog": the codes every build must produce.
CONTRACT_CODES = {
    "NIK_TIDAK_VALID", "NIK_TIDAK_SESUAI", "NKK_TIDAK_VALID", "GANDA_ID", "GANDA_NIK",
    "GANDA_ORANG", "TPS_TIDAK_DIKENAL", "KK_TERPISAH", "USIA_BELUM_CUKUP", "TMS_TIDAK_SESUAI",
    "TMS_TANPA_DOKUMEN", "TMS_8_TANPA_PENGGANTI", "STATUS_TIDAK_WAJAR", "DATA_HILANG",
    "TPS_MELEBIHI_KAPASITAS", "PROGRES_MELEBIHI_DATA", "JUMLAH_TIDAK_SESUAI", "PENURUNAN_TAJAM",
    "PANTARLIH_BELUM_LOGIN", "PANTARLIH_BELUM_SINKRON",
}  # fmt: skip


def test_catalog_holds_every_contract_code():
    catalog = load_catalog()
    assert CONTRACT_CODES <= set(catalog)
    families = load_families()
    for rule in catalog.values():
        assert rule.tingkat in TINGKAT
        assert rule.keluarga in families, rule.kode_temuan
        assert rule.judul and rule.tindakan


def test_rule_file_must_be_named_after_its_code(tmp_path: Path):
    p = tmp_path / "NIK_TIDAK_VALID.yaml"
    p.write_text(
        yaml.safe_dump(
            {
                "kode_temuan": "NKK_TIDAK_VALID",
                "keluarga": "identitas",
                "tingkat": "TINGGI",
                "unit": "pemilih",
                "judul": "x",
                "deskripsi": "x",
                "tindakan": "x",
            }
        )
    )
    with pytest.raises(CatalogError, match="differs from file name"):
        load_rule(p)


def test_rule_with_unknown_level_is_rejected(tmp_path: Path):
    p = tmp_path / "X.yaml"
    p.write_text(
        yaml.safe_dump(
            {
                "kode_temuan": "X",
                "keluarga": "identitas",
                "tingkat": "PENTING",
                "unit": "pemilih",
                "judul": "x",
                "deskripsi": "x",
                "tindakan": "x",
            }
        )
    )
    with pytest.raises(CatalogError, match="tingkat"):
        load_rule(p)


@pytest.mark.parametrize("election", ["pilkada-2024", "pemilu-2024"])
def test_every_rule_builds_as_great_expectations_takes_it(election):
    """What `make test` promises an operator who edited a rule (docs/operations.md): each
    rule's expectations, settings filled in, are ones GX accepts, kwarg by kwarg."""
    rules = rules_to_run(resolve_settings(election=election))
    assert {p.rule.kode_temuan for p in rules} == set(load_catalog()) - {"GANDA_NIK", "GANDA_ORANG"}


SYNC = "PANTARLIH_BELUM_SINKRON"


@pytest.mark.parametrize(
    ("old", "new", "said"),
    [
        (
            "batas_jam: 48",
            "batas_jam: [48",
            "YAML error at line 12, column 8: expected ',' or ']', but got ':' "
            "(while parsing a flow sequence at line 11, column 14)",
        ),
        (
            "type: expect_column_values_to_be_between",
            "type: expect_column_values_to_be_betwen",
            "periksa.expectations item 2: unknown Great Expectations expectation "
            "'expect_column_values_to_be_betwen' (did you mean "
            "expect_column_values_to_be_between?)",
        ),
        ("judul: Pantarlih belum sinkron\n", "", "missing judul"),
        ("  keterangan: 'Akun", "  keteranga: 'Akun", "periksa: missing keterangan"),
        ("batas_jam: 48", "batas_jm: 48", "no parameter setting 'batas_jam'"),
        (
            "batas_jam: 48",
            'batas_jam: "48 jam"',
            "item 2: expect_column_values_to_be_between: max_value='48 jam': "
            "value is not a valid float",
        ),
        (
            "max_value: '${parameter.batas_jam}'",
            "max_valu: '${parameter.batas_jam}'",
            "item 2: expect_column_values_to_be_between has no kwarg 'max_valu' "
            "(did you mean max_value?)",
        ),
        ("parameter:", "paramter:", "unknown key 'paramter' (did you mean parameter?)"),
        ("keluarga: pantarlih", "keluarga: pantarlh", "keluarga 'pantarlh' is not in families"),
    ],
)
def test_a_broken_rule_file_is_named_with_what_and_where(tmp_path: Path, old, new, said):
    """Every kind of mistake an operator makes editing a rule: one line (the night's
    failure reason), starting with the file, saying what and where."""
    exp = tmp_path / "exp"
    shutil.copytree(EXPECTATIONS_DIR, exp)
    path = exp / "rules" / f"{SYNC}.yaml"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    settings = resolve_settings()
    with pytest.raises(CatalogError) as err:
        for rule in load_catalog(exp).values():
            if "periksa" in rule.spec:
                periksa_of(rule, settings)
    message = str(err.value)
    assert message.startswith(f"{path}: "), message
    assert said in message and "\n" not in message, message
