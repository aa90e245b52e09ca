"""The seeded synthetic export generator (issue 2 point 3) and its truth files.

    from coklit_dq.simulate import simulate, SimulateResult

writes export-v1 nights `<out>/<YYYY-MM-DD>/` with planted problems of every
reports-v1 code, and `<out>/_truth/orang.parquet` (id_pemilih, id_orang, jenis)
and `<out>/_truth/temuan-<YYYY-MM-DD>.parquet` (kode_temuan, kunci, jenis).
"""

from coklit_dq.simulate.core import SimulateResult, simulate

__all__ = ["SimulateResult", "simulate"]
