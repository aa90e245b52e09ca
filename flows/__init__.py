"""Prefect flows: they only orchestrate the plain steps of coklit_dq.pipeline.

flows.nightly.nightly_coklit   one night (the deployment `nightly-coklit`)
flows.backfill.backfill_coklit a range of nights, in order
flows.tasks                    the steps of pipeline.STEPS as tasks
flows.runtime                  what a run resolves when it starts: its settings (once),
                               where its logs go, the mail to Pusdatin when it fails
flows.cli                      the console script `coklit-dq` (nightly and demo start
                               the flow here; the library never imports this package)
"""

import os

# Prefect and Great Expectations read these when they are imported, so before that:
# - offline machines: no usage telemetry, so no connection errors in the night's log
#   (Prefect's client honours DO_NOT_TRACK, its server PREFECT_SERVER_ANALYTICS_ENABLED,
#   Great Expectations GX_ANALYTICS_ENABLED);
# - the temporary server of a run without PREFECT_API_URL gets more than Prefect's
#   default 20 s to start: on a loaded 2-core machine it took longer, and the run died
#   with "Timed out while attempting to connect to ephemeral Prefect API server".
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
