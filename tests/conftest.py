"""Shared fixtures, registered once for the whole suite.

flow_fixtures: small exact nights and one Prefect test server per session.
servers: real local S3 (moto server) and SFTP (asyncssh) endpoints.
"""

import importlib.machinery
import sys

pytest_plugins = ["flow_fixtures", "servers"]

# `make test` runs the suite in two pytest-xdist workers. A worker's __main__ is execnet's,
# with neither __spec__ nor __file__, and pyspark.sql.connect (imported by Great
# Expectations) then takes the process for a doctest run and calls sys.exit(0) on import.
# A spec named "__main__" tells it otherwise, and multiprocessing's spawned children (the
# workbook pool) then import no main module, as for an interactive session.
_main = sys.modules["__main__"]
if getattr(_main, "__spec__", None) is None and not hasattr(_main, "__file__"):
    _main.__spec__ = importlib.machinery.ModuleSpec("__main__", None)
