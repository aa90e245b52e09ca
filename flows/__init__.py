"""Prefect flows: they only orchestrate the plain steps of coklit_dq.pipeline.

flows.nightly.nightly_coklit   one night (the deployment `nightly-coklit`)
flows.backfill.backfill_coklit a range of nights, in order
flows.runtime                  what a run resolves when it starts: paths, the
                               warehouse's concurrency slot, logs to the server
"""

import os

# Offline machines: no usage telemetry, so no connection errors in the night's log
# (Prefect's client honours DO_NOT_TRACK; Great Expectations GX_ANALYTICS_ENABLED).
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
