"""Simplified Chinese (zh_CN) UI for the SQLAdmin console.

Wiring (admin/app.py)::

    from starlette.middleware import Middleware
    from admin.i18n import STATICS_DIR, TEMPLATES_DIR, ChineseForm, ChineseOnlyMiddleware, i18n_config

    app = Starlette(routes=[
        # base.html loads js/flatpickr-zh.js and js/sqladmin-zh.js via url_for("wuye_static", ...)
        Mount("/static/wuye", StaticFiles(directory=STATICS_DIR), name="wuye_static"),
    ])
    admin = Admin(
        app,
        ...,
        templates_dir=str(TEMPLATES_DIR),                 # our sqladmin/*.html overrides win
        i18n_config=i18n_config(),                         # every request in zh_CN
        middlewares=[Middleware(ChineseOnlyMiddleware)],   # optional: also ignore ?lang=xx
    )

    class TicketAdmin(ModelView, model=Ticket):
        form_base_class = ChineseForm                      # WTForms messages in Chinese

``i18n_config()`` calls ``install_chinese()`` itself, so the catalog is registered before
the first request. The catalog is ``admin/translations/zh_CN/LC_MESSAGES/admin.po``; it is
compiled in memory, no ``.mo`` file is needed.
"""

from __future__ import annotations

import threading
from functools import lru_cache
from io import BytesIO
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations
from markupsafe import Markup
from sqladmin import i18n as sqladmin_i18n
from sqladmin.fields import AjaxSelectField, QuerySelectField
from sqladmin.i18n import I18nConfig
from sqladmin.widgets import FileInputWidget
from starlette.types import ASGIApp, Receive, Scope, Send
from wtforms import Form
from wtforms.i18n import get_translations as _wtforms_get_translations
from wtforms.meta import DefaultMeta

__all__ = [
    "LOCALE",
    "PO_PATH",
    "STATICS_DIR",
    "TEMPLATES_DIR",
    "ChineseForm",
    "ChineseOnlyMiddleware",
    "chinese_translations",
    "i18n_config",
    "install_chinese",
]

LOCALE = "zh_CN"
"""Locale code registered in ``sqladmin.i18n``."""

_ADMIN_DIR = Path(__file__).resolve().parent
PO_PATH = _ADMIN_DIR / "translations" / LOCALE / "LC_MESSAGES" / "admin.po"
TEMPLATES_DIR = _ADMIN_DIR / "templates"
"""Pass as ``Admin(templates_dir=...)``: holds the ``sqladmin/*.html`` overrides."""
STATICS_DIR = _ADMIN_DIR / "statics"
"""Must be served as the route named ``wuye_static``: holds js/flatpickr-zh.js and js/sqladmin-zh.js."""

_install_lock = threading.Lock()


@lru_cache(maxsize=1)
def chinese_translations() -> Translations:
    """Compile ``admin.po`` in memory and return it as a babel ``Translations``."""
    with PO_PATH.open("rb") as po_file:
        catalog = read_po(po_file, locale=LOCALE, domain="admin")
    buffer = BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(buffer, domain="admin")


def install_chinese() -> None:
    """Register the zh_CN catalog with sqladmin. Safe to call any number of times."""
    with _install_lock:
        sqladmin_i18n.translations[LOCALE] = chinese_translations()
        if LOCALE not in sqladmin_i18n.SUPPORTED_LOCALES:
            sqladmin_i18n.SUPPORTED_LOCALES.append(LOCALE)


def i18n_config() -> I18nConfig:
    """An ``I18nConfig`` that renders every request in zh_CN.

    * ``default_locale="zh_CN"``: used when nothing else matches.
    * ``language_header_name=None``: ``Accept-Language`` is ignored. With it enabled,
      ``en-US`` would negotiate to ``en`` (English UI), and ``zh-CN`` would not even
      match: ``_negotiate_from_header`` calls babel with ``sep="-"`` so it only matches
      ``zh-CN``-spelled codes, never our ``zh_CN``.
    * ``language_cookie_name=None``: no cookie is read or written.
    * ``language_switcher=None``: layout.html shows no language menu (it only renders
      when more than one locale is listed).

    sqladmin's ``LocaleMiddleware`` still honours ``?lang=<code>`` for that single
    request (nothing is persisted without the cookie); add ``ChineseOnlyMiddleware`` to
    ``Admin(middlewares=[...])`` to drop the parameter as well.
    """
    install_chinese()
    return I18nConfig(
        default_locale=LOCALE,
        language_cookie_name=None,
        language_header_name=None,
        language_switcher=None,
    )


class ChineseOnlyMiddleware:
    """ASGI middleware removing ``lang`` from the query string.

    Must run before sqladmin's ``LocaleMiddleware``; middlewares passed to
    ``Admin(middlewares=...)`` do (sqladmin appends its own after them).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and b"lang=" in scope.get("query_string", b""):
            pairs = parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True)
            kept = [(k, v) for k, v in pairs if k != "lang"]
            scope = dict(scope, query_string=urlencode(kept).encode("latin-1"))
        await self.app(scope, receive, send)


# --------------------------------------------------------------------------- WTForms

# sqladmin.forms.ModelConverter.conv_boolean uses these for nullable Boolean columns.
_BOOLEAN_CHOICES_EN = [(True, "True"), (False, "False")]
# What sqladmin's relation selects say when a required relation is left empty, and what it means.
_NOT_A_CHOICE = "Not a valid choice"
_REQUIRED = "This field is required."


def _left_empty(field: Any) -> bool:
    """A required relation (值班人, 项目 …) submitted without a choice, as opposed to a choice not allowed."""
    return (
        isinstance(field, AjaxSelectField | QuerySelectField)
        and not field.allow_blank
        and (not field.raw_data or field.raw_data[0] in ("", "__None"))
    )


# Fragments of sqladmin.widgets.FileInputWidget output.
_FILE_CURRENTLY = Markup("<p>Currently: ")
_FILE_CLEAR = Markup('">Clear</label>')


class _WTFormsChinese:
    """WTForms translations object: our catalog first, then WTForms' own ``zh``.

    Our ``admin.po`` corrects a few wrong/fuzzy entries of WTForms' zh catalog
    (e.g. "This field cannot be edited." is shipped as "该字段是必填字段。") and adds
    the messages of sqladmin's own fields.
    """

    def __init__(self) -> None:
        self.ours = chinese_translations()
        self.wtforms_zh = _wtforms_get_translations(["zh"])

    def gettext(self, string: str) -> str:
        translated = self.ours.gettext(string)
        if translated != string:
            return translated
        return self.wtforms_zh.gettext(string)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        translated = self.ours.ngettext(singular, plural, n)
        if translated not in (singular, plural):
            return translated
        return self.wtforms_zh.ngettext(singular, plural, n)

    def translate_error(self, message: Any) -> Any:
        """Translate an already raised error message if it is a known msgid.

        sqladmin raises some errors as plain ``ValueError("...")`` /
        ``ValidationError("...")`` without going through ``field.gettext``.
        """
        if isinstance(message, str) and message:
            return self.gettext(message)
        return message


@lru_cache(maxsize=1)
def _wtforms_chinese() -> _WTFormsChinese:
    return _WTFormsChinese()


class ChineseForm(Form):
    """``form_base_class`` for ModelViews: WTForms messages and sqladmin widgets in Chinese.

    Forms assigned directly via ``ModelView.form = MyForm`` must subclass this class
    themselves (sqladmin only uses ``form_base_class`` for scaffolded forms).
    """

    class Meta(DefaultMeta):
        locales = ["zh"]  # informational: get_translations() below is what WTForms uses
        cache_translations = True

        def get_translations(self, form: Form) -> _WTFormsChinese:
            return _wtforms_chinese()

        def bind_field(self, form: Form, unbound_field: Any, options: dict) -> Any:
            # Nullable Boolean columns become a SelectField labelled "True"/"False".
            if unbound_field.kwargs.get("choices") == _BOOLEAN_CHOICES_EN:
                trans = _wtforms_chinese()
                options = dict(
                    options,
                    choices=[(True, trans.gettext("True")), (False, trans.gettext("False"))],
                )
            return super().bind_field(form, unbound_field, options)

        def render_field(self, field: Any, render_kw: dict) -> Any:
            html = super().render_field(field, render_kw)
            # sqladmin.widgets.FileInputWidget hard-codes "Currently:" and "Clear".
            if isinstance(field.widget, FileInputWidget) and isinstance(html, Markup):
                trans = _wtforms_chinese()
                if html.startswith(_FILE_CURRENTLY):
                    html = Markup("<p>{}").format(trans.gettext("Currently:")) + html[len(_FILE_CURRENTLY) :]
                html = html.replace(_FILE_CLEAR, Markup('">{}</label>').format(trans.gettext("Clear")))
            return html

    def validate(self, extra_validators: Any = None) -> bool:
        valid = super().validate(extra_validators=extra_validators)
        if not valid:
            trans = _wtforms_chinese()
            for field in self:
                if isinstance(field.errors, list):
                    field.errors[:] = [trans.translate_error(e) for e in field.errors]
                    if _left_empty(field):  # sqladmin calls an empty required select "Not a valid choice"
                        not_a_choice, required = trans.gettext(_NOT_A_CHOICE), trans.gettext(_REQUIRED)
                        field.errors[:] = [required if e == not_a_choice else e for e in field.errors]
        return valid
