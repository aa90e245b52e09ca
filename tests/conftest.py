"""Shared fixtures, registered once for the whole suite.

flow_fixtures: small exact nights and one Prefect test server per session.
servers: real local S3 (moto server) and SFTP (asyncssh) endpoints.
"""

pytest_plugins = ["flow_fixtures", "servers"]
