"""knowledge bases: datasets, documents, transcripts, segments, and the FTS5 keyword index

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from vidrag.storage.models import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _timestamps() -> list[sa.Column[object]]:
    return [sa.Column("created_at", UTCDateTime(), nullable=False),
            sa.Column("updated_at", UTCDateTime(), nullable=False)]


def upgrade() -> None:
    op.create_table(
        "datasets",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(255), nullable=False, unique=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("embedding_model", sa.String(255), nullable=False),
        sa.Column("embedding_dimension", sa.Integer(), nullable=False),
        sa.Column("retrieval", sa.JSON(), nullable=False),
        sa.Column("process_rule", sa.JSON(), nullable=False),
        sa.Column("index_version", sa.Integer(), nullable=False),
        *_timestamps(),
    )
    op.create_table(
        "documents",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("dataset_id", sa.String(36), sa.ForeignKey("datasets.id", ondelete="CASCADE"), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("kind", sa.String(16)),
        sa.Column("source_url", sa.Text()),
        sa.Column("task_id", sa.String(36), sa.ForeignKey("tasks.id", ondelete="SET NULL")),
        sa.Column("file_path", sa.Text()),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("indexing_status", sa.String(16), nullable=False),
        sa.Column("stages", sa.JSON(), nullable=False),
        sa.Column("progress", sa.Float(), nullable=False),
        sa.Column("error", sa.Text()),
        sa.Column("error_code", sa.String(64)),
        sa.Column("doc_metadata", sa.JSON(), nullable=False),
        sa.Column("word_count", sa.Integer(), nullable=False),
        sa.Column("tokens", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("owner", sa.String(255)),
        sa.Column("heartbeat_at", UTCDateTime()),
        *_timestamps(),
        sa.Column("completed_at", UTCDateTime()),
    )
    op.create_index("ix_documents_dataset_id", "documents", ["dataset_id"])
    op.create_index("ix_documents_task_id", "documents", ["task_id"])
    op.create_index("ix_documents_indexing_status", "documents", ["indexing_status"])
    op.create_table(
        "transcripts",
        sa.Column("document_id", sa.String(36), sa.ForeignKey("documents.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("language", sa.String(16)),
        sa.Column("model", sa.String(255)),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "segments",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("dataset_id", sa.String(36), sa.ForeignKey("datasets.id", ondelete="CASCADE"), nullable=False),
        sa.Column("document_id", sa.String(36), sa.ForeignKey("documents.id", ondelete="CASCADE"), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("tokens", sa.Integer(), nullable=False),
        sa.Column("start", sa.Float()),
        sa.Column("end", sa.Float()),
        sa.Column("page", sa.Integer()),
        sa.Column("heading", sa.Text()),
        sa.Column("chapter", sa.Text()),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("embedding", sa.LargeBinary()),
        sa.Column("embedding_model", sa.String(255)),
        sa.Column("hit_count", sa.Integer(), nullable=False),
        *_timestamps(),
    )
    op.create_index("ix_segments_dataset_id", "segments", ["dataset_id"])
    op.create_index("ix_segments_document_id", "segments", ["document_id"])
    if op.get_bind().dialect.name == "sqlite":
        # Keyword index. `terms` holds the segmenter's output (jieba for CJK), so Chinese is searchable by
        # word; rowid = segments.id. Kept in step by the index stage, not by triggers, because the terms
        # are computed in Python.
        op.execute("CREATE VIRTUAL TABLE segments_fts USING fts5(terms, tokenize='unicode61 remove_diacritics 2')")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE segments_fts")
    op.drop_table("segments")
    op.drop_table("transcripts")
    op.drop_table("documents")
    op.drop_table("datasets")
