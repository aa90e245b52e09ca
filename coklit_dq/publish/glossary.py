"""What every column and code of the lists means, in Bahasa Indonesia, written once.

Read by the workbook's "Penjelasan" sheet and the data dictionary page
(kamus.html). Finding codes are explained from the catalog (each rule's
YAML: judul, tindakan, tingkat, prioritas, ditangani_oleh), never restated here.
"""

from __future__ import annotations

from typing import Any

from coklit_dq.rules.catalog import load_catalog

# every published column (reports-v1 with v1.1), then the answer columns (tanggapan-v1)
KOLOM: dict[str, str] = {
    "tanggal_ekspor": "Tanggal data ekspor yang diperiksa.",
    "kode_temuan": "Kode jenis temuan (lihat daftar kode temuan di bawah).",
    "tingkat": "Tingkat keparahan: TINGGI, SEDANG atau RENDAH.",
    "kode_prov": "Kode provinsi tempat temuan harus diperbaiki.",
    "kode_kab": "Kode kabupaten/kota.",
    "kode_kec": "Kode kecamatan.",
    "kode_desa": "Kode desa/kelurahan.",
    "no_tps": "Nomor TPS di desa/kelurahan itu.",
    "id_pemilih": "ID pemilih di Sidalih (untuk temuan per pemilih).",
    "id_pantarlih": "ID Pantarlih (petugas pemutakhiran) bila diketahui.",
    "id_kelompok": "Kelompok temuan: sama untuk semua data dalam satu kelompok ganda, "
    "satu keluarga (NKK) atau satu TPS.",
    "keterangan": "Apa yang salah dan apa yang harus dilakukan, dengan nilai yang menunjukkannya.",
    "status_temuan": "BARU: temuan pertama kali ditemukan malam ini. BERULANG: sudah "
    "ditemukan malam sebelumnya dan belum selesai.",
    "pertama_ditemukan": "Tanggal data ekspor ketika temuan ini pertama kali ditemukan.",
    "nama": "Nama pemilih seperti tercatat di data (temuan per pemilih).",
    "jenis_kelamin": "Jenis kelamin: L (laki-laki) atau P (perempuan).",
    "usia": "Usia pemilih dalam tahun penuh pada hari pemungutan suara.",
    "alamat": "Alamat seperti tercatat di data.",
    "rt": "RT seperti tercatat di data.",
    "rw": "RW seperti tercatat di data.",
    "nama_desa": "Nama desa/kelurahan.",
    "nama_kec": "Nama kecamatan.",
    "ditangani_oleh": "Siapa yang menindaklanjuti: PPS (desa/kelurahan), PPK (kecamatan), "
    "KPU_KABKO (KPU Kabupaten/Kota) atau PUSDATIN (Pusat Data dan Informasi KPU RI).",
    "prioritas": "Urutan pengerjaan: 1 dikerjakan lebih dulu, lalu 2, lalu 3.",
    "tanggapan": "Isian wilayah: SUDAH_DIPERBAIKI, BUKAN_MASALAH atau PERLU_BANTUAN.",
    "alasan": "Alasan tanggapan (wajib diisi bila BUKAN_MASALAH).",
    "petugas": "Nama petugas yang mengisi tanggapan.",
}

TANGGAPAN = ("SUDAH_DIPERBAIKI", "BUKAN_MASALAH", "PERLU_BANTUAN")

# (group, value, meaning)
NILAI: tuple[tuple[str, str, str], ...] = (
    ("Tingkat", "TINGGI", "Dapat membuat pemilih hilang dari daftar atau terdaftar dua kali."),
    ("Tingkat", "SEDANG", "Data atau penempatan salah; perlu diperbaiki sebelum DPS."),
    ("Tingkat", "RENDAH", "Peringatan atau ketidakcocokan kecil; periksa bila sempat."),
    ("Prioritas", "1", "Kerjakan lebih dulu: pemilih bisa tidak terdaftar atau terdaftar ganda."),
    ("Prioritas", "2", "Kesalahan penempatan TPS atau isian data pemilih."),
    ("Prioritas", "3", "Selisih jumlah dan tindak lanjut dengan petugas."),
    ("Status temuan", "BARU", "Temuan baru: pertama kali ditemukan malam ini."),
    ("Status temuan", "BERULANG", "Temuan berulang: sudah ada malam sebelumnya."),
    ("Status coklit", "BELUM", "Data yang diturunkan, belum dicoklit."),
    ("Status coklit", "MS", "Memenuhi syarat, data sesuai."),
    ("Status coklit", "UBAH", "Memenuhi syarat, data diubah."),
    ("Status coklit", "BARU", "Pemilih baru yang ditambahkan Pantarlih."),
    ("Status coklit", "TMS", "Tidak memenuhi syarat (dengan kode TMS)."),
    ("Kode TMS", "1", "Meninggal dunia."),
    ("Kode TMS", "2", "Ganda (terdaftar lebih dari sekali)."),
    ("Kode TMS", "3", "Di bawah umur."),
    ("Kode TMS", "4", "Pindah domisili keluar desa/kelurahan."),
    ("Kode TMS", "5", "Tidak dikenal."),
    ("Kode TMS", "6", "Anggota TNI."),
    ("Kode TMS", "7", "Anggota Polri."),
    ("Kode TMS", "8", "Salah TPS (pindah TPS di desa yang sama)."),
    ("Status kawin", "B", "Belum kawin."),
    ("Status kawin", "S", "Sudah kawin."),
    ("Status kawin", "P", "Pernah kawin (cerai hidup atau cerai mati)."),
    ("Ditangani oleh", "PPS", "Panitia Pemungutan Suara di desa/kelurahan."),
    ("Ditangani oleh", "PPK", "Panitia Pemilihan Kecamatan."),
    ("Ditangani oleh", "KPU_KABKO", "KPU Kabupaten/Kota."),
    ("Ditangani oleh", "PUSDATIN", "Pusdatin KPU RI: hanya dapat diperbaiki di sistem pusat."),
    ("Tanggapan", "SUDAH_DIPERBAIKI", "Sudah diperbaiki di Sidalih."),
    ("Tanggapan", "BUKAN_MASALAH", "Sudah diperiksa dan bukan masalah (isi alasan)."),
    ("Tanggapan", "PERLU_BANTUAN", "Perlu bantuan Pusdatin atau KPU Kabupaten/Kota."),
    ("NIK/NKK", "320101********01", "NIK dan NKK disamarkan: 6 digit awal dan 2 digit akhir."),
)


def codes() -> list[dict[str, Any]]:
    """Every finding code of the catalog with its texts, in code order."""
    return [
        {
            "kode_temuan": r.kode_temuan,
            "judul": r.judul,
            "tindakan": r.tindakan,
            "tingkat": r.tingkat,
            "prioritas": r.prioritas,
            "ditangani_oleh": r.ditangani_oleh,
        }
        for r in sorted(load_catalog().values(), key=lambda r: (r.prioritas, r.kode_temuan))
    ]
