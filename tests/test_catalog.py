from pathlib import Path

import pytest
import yaml

from coklit_dq.contract import TINGKAT
from coklit_dq.rules.catalog import CatalogError, load_catalog, load_families, load_rule

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
