"""Queries over tasks and files. Callers own the session (and so the transaction)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from vidrag.domain.tasks import TaskStatus
from vidrag.storage.models import DocumentRow, MediaFileRow, TaskRow


@dataclass(frozen=True)
class TaskFilter:
    status: Sequence[TaskStatus] = ()
    source: str | None = None
    search: str | None = None  # substring of the URL or the title
    in_knowledge_base: bool | None = None  # whether some knowledge-base document was made from the task


class TaskRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, task_id: str, *, for_update: bool = False) -> TaskRow | None:
        stmt = select(TaskRow).where(TaskRow.id == task_id)
        if for_update:
            stmt = stmt.with_for_update()
        return self.session.scalars(stmt).first()

    def add(self, task: TaskRow) -> None:
        self.session.add(task)
        self.session.flush()

    def delete(self, task: TaskRow) -> None:
        self.session.delete(task)

    def find_active_by_url(self, normalized_url: str) -> TaskRow | None:
        return self.session.scalars(select(TaskRow).where(TaskRow.active_key == normalized_url)).first()

    def find_by_idempotency_key(self, key: str) -> TaskRow | None:
        return self.session.scalars(select(TaskRow).where(TaskRow.idempotency_key == key)).first()

    def with_status(self, *statuses: TaskStatus) -> list[TaskRow]:
        stmt = select(TaskRow).where(TaskRow.status.in_([s.value for s in statuses])).order_by(TaskRow.created_at)
        return list(self.session.scalars(stmt))

    def page(self, flt: TaskFilter, *, offset: int, limit: int) -> tuple[list[TaskRow], int]:
        stmt = select(TaskRow)
        if flt.status:
            stmt = stmt.where(TaskRow.status.in_([s.value for s in flt.status]))
        if flt.source:
            stmt = stmt.where(TaskRow.source == flt.source)
        if flt.search:
            pattern = f"%{flt.search.lower()}%"
            stmt = stmt.where(func.lower(TaskRow.url).like(pattern)
                              | func.lower(TaskRow.video_info["title"].as_string()).like(pattern))
        if flt.in_knowledge_base is not None:
            used = TaskRow.id.in_(select(DocumentRow.task_id).where(DocumentRow.task_id.is_not(None)))
            stmt = stmt.where(used if flt.in_knowledge_base else ~used)
        total = self.session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
        rows = self.session.scalars(stmt.order_by(TaskRow.created_at.desc(), TaskRow.id)
                                    .offset(offset).limit(limit))
        return list(rows), total

    def all(self) -> list[TaskRow]:
        return list(self.session.scalars(select(TaskRow).order_by(TaskRow.created_at)))

    def count_by_status(self) -> dict[str, int]:
        rows = self.session.execute(select(TaskRow.status, func.count()).group_by(TaskRow.status))
        return {status: count for status, count in rows}


class MediaFileRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def by_name(self, name: str) -> MediaFileRow | None:
        return self.session.scalars(select(MediaFileRow).where(MediaFileRow.name == name)).first()

    def name_taken(self, name: str) -> bool:
        return self.by_name(name) is not None

    def all_of_finished_tasks(self) -> list[MediaFileRow]:
        """Files whose task is no longer running: the only ones retention may delete."""
        stmt = (select(MediaFileRow).join(TaskRow)
                .where(TaskRow.status.notin_([TaskStatus.QUEUED.value, TaskStatus.RUNNING.value])))
        return list(self.session.scalars(stmt))

    def all(self) -> list[MediaFileRow]:
        return list(self.session.scalars(select(MediaFileRow)))

    def of_tasks(self, task_ids: Iterable[str]) -> dict[str, list[MediaFileRow]]:
        out: dict[str, list[MediaFileRow]] = {}
        for row in self.session.scalars(select(MediaFileRow).where(MediaFileRow.task_id.in_(list(task_ids)))
                                        .order_by(MediaFileRow.id)):
            out.setdefault(row.task_id, []).append(row)
        return out
