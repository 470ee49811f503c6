"""What an operation-log code means, in Chinese: the one place the console (操作日志) reads it from. Codes of their
own are in ``audit.OPERATION_LABELS``; composed ones are named after their record: ``export:bill`` → 导出「账单」,
``import:units`` → 导入「房屋」, ``update:unit`` → 修改「房屋」 (a console form's save, actions/records.py)."""

from __future__ import annotations

import functools

from models import Base

from .audit import OPERATION_LABELS
from .bulk_import import KINDS
from .survey_import import SurveyImporter

# A console form's save, by the verb of its code (actions/records.py).
RECORD_VERBS = {"export": "导出", "create": "新增", "update": "修改", "delete": "删除"}


@functools.cache
def _record_labels() -> dict[str, str]:
    return {m.class_.__table__.name: m.class_.__label__ or m.class_.__name__ for m in Base.registry.mappers}


def _import_titles() -> dict[str, str]:
    return {SurveyImporter.kind: SurveyImporter.title, **{kind: cls.title for kind, cls in KINDS.items()}}


def operation_label(code: str) -> str:
    """An operation-log code in Chinese; a code not known is shown as itself."""
    if label := OPERATION_LABELS.get(code):
        return label
    prefix, _, rest = code.partition(":")
    if prefix in RECORD_VERBS and (name := _record_labels().get(rest)):
        return f"{RECORD_VERBS[prefix]}「{name}」"
    if prefix == "import" and (name := _import_titles().get(rest)):
        return f"导入「{name}」"
    return code
