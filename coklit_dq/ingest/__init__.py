"""Stage 1, ingest: verify a night of export-v1, quarantine bad files, load the rest.

See `coklit_dq.ingest.night` for the steps and `readers.LATIN1_POLICY` for how
a CSV that is not UTF-8 is treated.
"""

from coklit_dq.ingest.night import IngestResult, ingest_night
from coklit_dq.ingest.quarantine import FileError, Quarantined
from coklit_dq.ingest.readers import LATIN1_POLICY
from coklit_dq.ingest.source import IngestError

__all__ = [
    "LATIN1_POLICY",
    "FileError",
    "IngestError",
    "IngestResult",
    "Quarantined",
    "ingest_night",
]
