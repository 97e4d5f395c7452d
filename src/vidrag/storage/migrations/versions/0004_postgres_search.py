"""PostgreSQL search: pgvector vectors, full-text terms and a BM25 function (no-op on SQLite)

On SQLite the vectors stay in ``segments.embedding`` (float32 blobs searched in memory) and the keyword index
is the FTS5 table of 0003. On PostgreSQL:

- ``segments.embedding_vec``: a pgvector ``vector`` of any dimension. HNSW indexes are per dimension (partial
  expression indexes, ``vidrag.storage.pg_search.ensure_vector_index``), made at start for the configured
  embedder, so one table serves knowledge bases of different models.
- ``segments.terms_tsv`` / ``term_count``: the same segmenter terms as FTS5 (jieba for CJK), as a tsvector of the
  ``simple`` configuration (no stemming, no stop words: the terms are final), with a GIN index.
- ``vidrag_bm25``: Okapi BM25 with FTS5's constants (k1 1.2, b 0.75), so both databases rank keyword hits alike.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

BM25 = """
CREATE OR REPLACE FUNCTION vidrag_bm25(doc tsvector, doc_len integer, terms text[], idfs float8[], avgdl float8)
RETURNS float8 LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT coalesce(sum(q.idf * cardinality(u.positions) * 2.2
                      / (cardinality(u.positions) + 1.2 * (0.25 + 0.75 * doc_len / greatest(avgdl, 1e-9)))), 0)
  FROM unnest(doc) AS u JOIN unnest(terms, idfs) AS q(term, idf) ON q.term = u.lexeme
$$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("CREATE EXTENSION IF NOT EXISTS vector")
    op.execute("ALTER TABLE segments ADD COLUMN embedding_vec vector")
    op.execute("ALTER TABLE segments ADD COLUMN terms_tsv tsvector")
    op.execute("ALTER TABLE segments ADD COLUMN term_count integer NOT NULL DEFAULT 0")
    op.execute("CREATE INDEX ix_segments_terms_tsv ON segments USING gin (terms_tsv)")
    op.execute(BM25)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP FUNCTION IF EXISTS vidrag_bm25(tsvector, integer, text[], float8[], float8)")
    op.execute("DROP INDEX IF EXISTS ix_segments_terms_tsv")
    for name in ("term_count", "terms_tsv", "embedding_vec"):
        op.execute(f"ALTER TABLE segments DROP COLUMN IF EXISTS {name}")
