"""The custom pages' input, declared: each page describes its fields as a WTForms form of the kinds below, and
``PageForm.read`` binds a request's form or query to typed values — or refuses, in Chinese, naming the field and
what was typed (the first bad field, in the order the form declares them). Nothing is written before a form
reads: a page reads its input, then calls its action with ``form.data``.

Labels come from the models (``label_of``), so a message names a field the way the page shows it."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from decimal import Decimal
from typing import Any, Self

from starlette.datastructures import ImmutableMultiDict
from wtforms import Field, Form, StringField
from wtforms.validators import ValidationError

from actions.actor import Actor
from actions.errors import NotPermitted, Refused
from actions.kernel.money import decimal_text
from actions.kernel.periods import read_month, today_local, within_years
from actions.records import MISSING_VERSION_MESSAGE
from models import SHANGHAI, LabeledEnum


class PageForm(Form):
    """A custom page's fields. ``read(source, actor=…)`` binds and validates them, raising the first refusal."""

    class Meta:
        actor: Actor | None = None

    @classmethod
    def read(cls, source: Any, *, actor: Actor | None = None) -> Self:
        """``source``: a request's form or query params, or a plain mapping of the values typed."""
        if not hasattr(source, "getlist"):
            source = ImmutableMultiDict(source)
        form = cls(formdata=source, meta={"actor": actor})
        if not form.validate():
            error = next(e for field in form for e in field.errors)
            raise error if isinstance(error, Refused) else Refused(str(error))
        return form


def _plain(text: str) -> str:
    """Full-width characters made plain: a Chinese keyboard types ２０２６－１２－０７."""
    return unicodedata.normalize("NFKC", text).strip()


class _Typed(Field):
    """A field read from one typed value: blank is ``None`` (or the default), anything else through ``parse``,
    which raises ``ValueError`` when it cannot read it (the refusal then names the field and the value, see
    ``invalid``) or ``ValidationError`` with a reason of its own."""

    widget = StringField.widget
    missing = "请填写{}"
    plain = True  # numbers, dates and codes are read full-width or not; free text is kept as typed

    def __init__(self, label: str, *, required: bool = False, default: Any = None, **kwargs: Any) -> None:
        super().__init__(label, default=default, **kwargs)
        self.required = required

    def parse(self, text: str) -> Any:
        raise NotImplementedError

    def invalid(self, text: str) -> str:
        return f"{self.label.text}无效：{text}"

    def process_formdata(self, valuelist: list[Any]) -> None:
        text = str(valuelist[0] if valuelist else "").strip()
        text = _plain(text) if self.plain else text
        if not text:
            if self.required:
                raise ValueError(self.missing.format(self.label.text))
            return  # keeps the default
        try:
            self.data = self.parse(text)
        except ValidationError:
            raise  # a reason of the field's own
        except ValueError:
            raise ValueError(self.invalid(text)) from None

    def _value(self) -> str:
        return "" if self.data is None else str(self.data)


class IdField(_Typed):
    """A positive whole number: a record's id (a year, a count), within ``between`` when given."""

    missing = "请指定{}"

    def __init__(self, label: str, *, between: tuple[int, int] = (1, 2**31 - 1), **kwargs: Any) -> None:
        super().__init__(label, **kwargs)
        self.between = between

    def parse(self, text: str) -> int:
        if not text.isdigit() or not self.between[0] <= int(text) <= self.between[1]:
            raise ValueError
        return int(text)


def read_id(source: Any, name: str, label: str) -> int:
    """The one id a page about one record needs (``?name=``), refused when absent or not an id."""
    return type("RecordForm", (PageForm,), {name: IdField(label, required=True)}).read(source).data[name]


class VersionField(IdField):
    """The version an edit form was opened on (B13): a form without it — its field removed, an old page — is
    refused as the console's model forms refuse it, never saved over whatever was changed since."""

    missing = MISSING_VERSION_MESSAGE

    def __init__(self, label: str = "版本", **kwargs: Any) -> None:
        super().__init__(label, required=True, **kwargs)


class ProjectField(IdField):
    """A project's id, which the reading actor may act on (a foreign one is refused as not permitted)."""

    def __init__(self, label: str = "项目", **kwargs: Any) -> None:
        super().__init__(label, **kwargs)

    def pre_validate(self, form: Form) -> None:
        actor = form.meta.actor
        if self.data is not None and actor is not None and not actor.can_see(self.data):
            raise ValidationError(NotPermitted(f"无权操作项目：{self.label.text}编号 {self.data}", [self.data]))


class IdsField(Field):
    """Several ids: repeated fields (ticked boxes) and/or one ``1,2,3`` value, as a tuple."""

    def __init__(self, label: str, **kwargs: Any) -> None:
        super().__init__(label, default=(), **kwargs)

    def process_formdata(self, valuelist: list[Any]) -> None:
        parts = [p.strip() for v in valuelist for p in unicodedata.normalize("NFKC", str(v)).split(",") if p.strip()]
        bad = next((p for p in parts if not p.isdigit() or int(p) < 1), None)
        if bad is not None:
            raise ValueError(f"{self.label.text}无效：{bad}")
        self.data = tuple(int(p) for p in parts)


class VersionsField(Field):
    """The version of each record a step form on several records was opened on (B13), sent as ``id:version,…``:
    refused when absent, as :class:`VersionField` is."""

    def __init__(self, label: str = "版本", **kwargs: Any) -> None:
        super().__init__(label, default=None, **kwargs)

    def process_formdata(self, valuelist: list[Any]) -> None:
        pairs = [p.strip() for v in valuelist for p in str(v).split(",") if p.strip()]
        if not pairs:
            raise ValueError(MISSING_VERSION_MESSAGE)
        whole = [p.partition(":")[::2] for p in pairs]
        if not all(_INT.match(i) and _INT.match(v) for i, v in whole):
            raise ValueError(f"{self.label.text}无效")
        self.data = {int(i): int(v) for i, v in whole}


_INT = re.compile(r"^[1-9]\d{0,8}$")  # 1 … 999,999,999: an id or a version, within the database's integer


_YMD = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*[日号]?$")
_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_MONTH_DAY = re.compile(r"^(\d{1,2})\s*月\s*(\d{1,2})\s*[日号]?$")


def typed_date(text: str) -> dt.date:
    """A date the way people type it — the formats the date picker understands (admin/statics/js/
    datetime-picker.js): 2026-12-07, 2026/12/7, 2026.12.07, 2026年12月7日, 20261207, and 12月7日 (this year)."""
    text = _plain(text)
    if match := _YMD.match(text) or _COMPACT.match(text):
        year, month, day = match.groups()
    elif match := _MONTH_DAY.match(text):
        year, (month, day) = str(today_local().year), match.groups()
    else:
        raise ValueError
    return dt.date(int(year), int(month), int(day))  # 2026-13-01 raises: refused, never rolled over


def _in_years(day: dt.date, label: str, text: str) -> dt.date:
    """A typed day within the years the calendar arithmetic and the records live in (kernel ``within_years``)."""
    try:
        return within_years(day, what=label, text=f"「{text}」")
    except Refused as refused:
        raise ValidationError(refused.message) from None


class DateField(_Typed):
    """A day, typed in any of the picker's formats."""

    def parse(self, text: str) -> dt.date:
        return _in_years(typed_date(text), self.label.text, text)

    def invalid(self, text: str) -> str:
        return f"{self.label.text}「{text}」无法识别为日期（如 2026-12-07、20261207、2026年12月7日）"


class MonthField(_Typed):
    """A month as YYYY-MM — or as people type it where the browser shows a month input as a text box (Firefox,
    Safari): 2026年11月, 2026/11, 2026.11, 2026-1 (the kernel's wording when it is none of these)."""

    def parse(self, text: str) -> str:
        try:
            return read_month(text, what=self.label.text).text
        except Refused as refused:
            raise ValidationError(refused.message) from None


class LocalDateTimeField(_Typed):
    """A ``datetime-local`` input: Beijing time, no zone."""

    def parse(self, text: str) -> dt.datetime:
        moment = dt.datetime.fromisoformat(text)
        _in_years(moment.date(), self.label.text, text)
        return moment.replace(tzinfo=SHANGHAI)

    def invalid(self, text: str) -> str:
        return f"{self.label.text}格式无效：{text}"


class DecimalField(_Typed):
    """An exact number (points, amounts)."""

    def parse(self, text: str) -> Decimal:
        number = decimal_text(text)  # as the imports read a number: not 「1e3」 nor 「1_000」
        if number is None:
            raise ValueError
        return number


class EnumField(_Typed):
    """One member of a labelled enum, by value; required unless told otherwise."""

    missing = "请选择{}"

    def __init__(self, enum: type[LabeledEnum], label: str, **kwargs: Any) -> None:
        super().__init__(label, **{"required": True, **kwargs})
        self.enum = enum

    def parse(self, text: str) -> Any:
        return self.enum(text)


class ChoiceField(_Typed):
    """One of a few fixed answers (``choices``: what the form sends → what it means); required unless told."""

    missing = "请选择{}"

    def __init__(self, label: str, choices: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(label, **{"required": True, **kwargs})
        self.choices = choices

    def parse(self, text: str) -> Any:
        if text not in self.choices:
            raise ValueError
        return self.choices[text]


class PageNumberField(_Typed):
    """``?page=``: a list page's number, 1 when absent."""

    def __init__(self, label: str = "页码", **kwargs: Any) -> None:
        super().__init__(label, default=1, **kwargs)

    def parse(self, text: str) -> int:
        # bounded as an id is: a page of 10^20 reached the database as an OFFSET past its integers
        if not text.isdigit() or int(text) > 2**31 - 1:
            raise ValueError
        return max(int(text), 1)


class FlagField(_Typed):
    """A checkbox or hidden ``1``: true when sent as 1/on/true."""

    def __init__(self, label: str, **kwargs: Any) -> None:
        super().__init__(label, default=False, **kwargs)

    def parse(self, text: str) -> bool:
        return text.lower() in ("1", "on", "true", "yes")


class TextField(_Typed):
    """Free text, trimmed; blank is ``""``."""

    plain = False

    def __init__(self, label: str, **kwargs: Any) -> None:
        super().__init__(label, **{"default": "", **kwargs})

    def parse(self, text: str) -> str:
        return text
