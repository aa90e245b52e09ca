"""Clusters of the edge table, in DuckDB (edges are few: thousands, not millions).

`consistent_edges` first drops the edges a record cannot have with two people at once,
then `connected_components` joins what is left."""

from __future__ import annotations

import duckdb


def consistent_edges(con: duckdb.DuckDBPyConnection, edges: str) -> int:
    """Delete from `edges`(id_l, id_r, match_probability) each edge a–b for which a (or b)
    has a stronger edge to a third record c that b (or a) has no edge with.

    A duplicate is one person entered twice: when a record links to two records that do
    not link to each other, those two are different people (typically the person and a
    namesake born the same day in the same kecamatan, whose serials 0001/0002 sit one
    digit from the copy's slipped serial), and the record can be only one of them; it keeps
    its best partner. Plain connected components would join all three and ask a PPS to
    strike a real voter. A record of three that all link to each other keeps every edge.
    One pass over the edges as scored (not iterated). Returns how many edges were dropped."""
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _link_e2 AS
        SELECT id_l AS a, id_r AS b, match_probability AS p FROM {edges}
        UNION ALL SELECT id_r, id_l, match_probability FROM {edges}"""
    )
    # (a, b) loses to (a, c) when (a, c) is stronger (ties: the smaller id wins) and b–c
    # is no edge
    con.execute(
        """CREATE OR REPLACE TEMP TABLE _link_lepas_sisi AS
        SELECT DISTINCT least(x.a, x.b) AS id_l, greatest(x.a, x.b) AS id_r
        FROM _link_e2 x JOIN _link_e2 y
          ON y.a = x.a AND y.b <> x.b AND (y.p > x.p OR (y.p = x.p AND y.b < x.b))
        WHERE NOT EXISTS (SELECT 1 FROM _link_e2 z WHERE z.a = x.b AND z.b = y.b)"""
    )
    n = int(con.execute("SELECT count(*) FROM _link_lepas_sisi").fetchall()[0][0])
    if n:
        con.execute(
            f"""DELETE FROM {edges} WHERE EXISTS (SELECT 1 FROM _link_lepas_sisi d
            WHERE d.id_l = least({edges}.id_l, {edges}.id_r)
              AND d.id_r = greatest({edges}.id_l, {edges}.id_r))"""
        )
    con.execute("DROP TABLE IF EXISTS _link_e2")
    con.execute("DROP TABLE IF EXISTS _link_lepas_sisi")
    return n


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
