"""Responses from regions (tanggapan-v1): read, validate, store and apply them.

    read_inbox(con, tanggal, settings) -> InboxResult     each night, after the diff,
                                                          before publishing
    TanggapanNight.load(con, tanggal)                     what the publication needs:
        .split(findings) -> (region lists, marked "bukan masalah")
        .section(level, kode, names) -> HTML for the pages
        .ditolak_of(kode_kab) -> what it sent that was set aside tonight
    write_sheet(workbook, ditandai)                       the sheet "Ditandai bukan masalah"
    write_rejected_sheet(workbook, ditolak)               the sheet "Tanggapan ditolak"
    region_figures(con, tanggal, level) -> frame          answered share, median days open,
                                                          reported fixed but still found
    labels_table(con) -> frame                            GANDA_ORANG clerical labels

Tables: see `store`. Every value of a response is hostile: see `reader`, `validate`.
"""

from coklit_dq.tanggapan.apply import night_marks, region_figures
from coklit_dq.tanggapan.inbox import InboxResult, read_inbox
from coklit_dq.tanggapan.labels import labels_table
from coklit_dq.tanggapan.publish import (
    DITOLAK_SHEET,
    SHEET,
    TanggapanNight,
    write_rejected_sheet,
    write_sheet,
)

__all__ = [
    "DITOLAK_SHEET",
    "SHEET",
    "InboxResult",
    "TanggapanNight",
    "labels_table",
    "night_marks",
    "read_inbox",
    "region_figures",
    "write_rejected_sheet",
    "write_sheet",
]
