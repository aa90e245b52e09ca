"""Prefect flows: they only orchestrate the plain steps of coklit_dq.pipeline.

flows.nightly.nightly_coklit   one night (the deployment `nightly-coklit`)
flows.backfill.backfill_coklit a range of nights, in order
"""
