"""Connected components of the edge table, in DuckDB (edges are few: thousands, not millions)."""

from __future__ import annotations

import duckdb


def connected_components(con: duckdb.DuckDBPyConnection, edges: str, out: str) -> None:
    """`out`(unique_id, klaster): every node of `edges`(id_l, id_r) and the smallest
    id of its component. Min-label propagation; each round is one SQL statement."""
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE {out} AS
        SELECT id AS unique_id, id AS klaster FROM (
          SELECT id_l AS id FROM {edges} UNION SELECT id_r FROM {edges})"""
    )
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _link_e AS
        SELECT id_l AS a, id_r AS b FROM {edges} UNION SELECT id_r, id_l FROM {edges}"""
    )
    while True:
        changed = con.execute(
            f"""WITH m AS (
              SELECT e.a AS unique_id, min(n.klaster) AS k
              FROM _link_e e JOIN {out} n ON n.unique_id = e.b GROUP BY e.a
            )
            UPDATE {out} SET klaster = m.k FROM m
            WHERE {out}.unique_id = m.unique_id AND m.k < {out}.klaster
            RETURNING 1"""
        ).fetchall()
        if not changed:
            break
    con.execute("DROP TABLE IF EXISTS _link_e")
