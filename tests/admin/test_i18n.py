"""zh_CN catalog, locale resolution, Chinese WTForms messages and the sqladmin template overrides."""

from __future__ import annotations

import asyncio
import contextvars
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import sqladmin.i18n as sqladmin_i18n
from babel.messages.pofile import read_po
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, PackageLoader, PrefixLoader
from jinja2.ext import babel_extract
from sqladmin.fields import JSONField
from sqladmin.fields import SelectField as SqladminSelectField
from starlette.datastructures import FormData
from starlette.testclient import TestClient
from wtforms import IntegerField, SelectMultipleField, StringField, validators

from admin.i18n import (
    LOCALE,
    PO_PATH,
    TEMPLATES_DIR,
    ChineseForm,
    ChineseOnlyMiddleware,
    i18n_config,
    install_chinese,
)

POT_PATH = Path(sqladmin_i18n.__file__).parent / "translations" / "admin.pot"
HAN = re.compile(r"[\u4e00-\u9fff]")
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]|\{(\w*)\}")


def _read(path: Path):
    with path.open("rb") as fp:
        return read_po(fp)


@pytest.fixture(scope="module")
def zh():
    install_chinese()
    return sqladmin_i18n.translations[LOCALE]


# --------------------------------------------------------------------------- catalog


def test_install_is_idempotent(zh):
    install_chinese()
    install_chinese()
    assert sqladmin_i18n.SUPPORTED_LOCALES.count(LOCALE) == 1
    assert sqladmin_i18n.translations[LOCALE] is zh


@pytest.mark.parametrize(
    ("msgid", "expected"),
    [
        ("Save", "保存"),
        ("Delete", "删除"),
        ("Export", "导出"),
        ("Import", "导入"),
        ("List", "列表"),
        ("Create", "新建"),
        ("Edit", "编辑"),
        ("Search", "搜索"),
        ("Filters", "筛选"),
        ("Login", "登录"),
        ("Logout", "退出登录"),
        ("Cancel", "取消"),
        ("Invalid credentials.", "用户名或密码错误"),
    ],
)
def test_sample_translations(zh, msgid, expected):
    assert zh.gettext(msgid) == expected


def test_placeholders_are_kept(zh):
    assert zh.gettext("New %(name)s") % {"name": "工单"} == "新建工单"
    text = zh.gettext("Showing %(start)s to %(end)s of %(count)s items") % {
        "start": 1,
        "end": 10,
        "count": 31,
    }
    assert "1" in text and "10" in text and "31" in text and HAN.search(text)


def test_sqladmin_gettext_uses_zh_cn_when_active(zh):
    def render():
        sqladmin_i18n.set_locale(LOCALE)
        return sqladmin_i18n.get_locale(), sqladmin_i18n.gettext("Save")

    # A copied context keeps the locale switch away from the other tests.
    assert contextvars.copy_context().run(render) == (LOCALE, "保存")
    assert sqladmin_i18n.get_locale() == sqladmin_i18n.DEFAULT_LOCALE


def test_single_plural_form(zh):
    # zh has one plural form: every count selects msgstr[0].
    assert [zh.plural(n) for n in (0, 1, 2, 5, 100)] == [0, 0, 0, 0, 0]


def test_every_pot_msgid_is_translated():
    pot = _read(POT_PATH)
    po = _read(PO_PATH)
    assert po.num_plurals == 1
    assert po.plural_expr == "0"
    missing, empty, fuzzy, bad_placeholders = [], [], [], []
    for message in pot:
        if not message.id:
            continue
        ours = po.get(message.id)
        if ours is None:
            missing.append(message.id)
            continue
        if ours.fuzzy:
            fuzzy.append(message.id)
        strings = ours.string if isinstance(ours.string, tuple) else (ours.string,)
        if isinstance(message.id, tuple) and len(strings) != po.num_plurals:
            empty.append(message.id)
        if not all(s and s.strip() for s in strings):
            empty.append(message.id)
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        wanted = set(PLACEHOLDER.findall(ids[-1]))
        if any(set(PLACEHOLDER.findall(s)) != wanted for s in strings):
            bad_placeholders.append(message.id)
    assert not missing, f"msgids of admin.pot missing from admin.po: {missing}"
    assert not empty, f"empty msgstr: {empty}"
    assert not fuzzy, f"fuzzy entries are not compiled: {fuzzy}"
    assert not bad_placeholders, f"placeholders differ from the msgid: {bad_placeholders}"


def test_whole_po_is_chinese_and_consistent():
    po = _read(PO_PATH)
    assert not list(po.check()), "babel's checkers (python-format etc.) report errors"
    for message in po:
        if not message.id:
            continue
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        assert all(HAN.search(s) for s in strings), f"not translated to Chinese: {message.id!r}"


def test_template_overrides_only_use_translated_strings(zh):
    po = _read(PO_PATH)
    templates = sorted(TEMPLATES_DIR.joinpath("sqladmin").rglob("*.html"))
    assert templates
    used = set()
    for path in templates:
        with path.open("rb") as fp:
            for _lineno, _func, message, _comments in babel_extract(fp, ("_", "gettext", "ngettext"), [], {}):
                used.update(m for m in (message if isinstance(message, tuple) else (message,)) if m)
    assert {"Invalid credentials.", "Contains", "All", "Import completed", "No results found"} <= used
    untranslated = sorted(m for m in used if not (po.get(m) and po.get(m).string))
    assert not untranslated, (
        f"strings used by admin/templates/sqladmin but absent from admin.po: {untranslated}"
    )


def test_js_uses_only_keys_the_strings_block_provides():
    js = (TEMPLATES_DIR.parent / "statics" / "js" / "sqladmin-zh.js").read_text("utf-8")
    block = (TEMPLATES_DIR / "sqladmin" / "_zh_cn_strings.html").read_text("utf-8")
    provided = set(re.findall(r'^\s*"(\w+)": _\(', block, re.MULTILINE))
    wanted = set(re.findall(r"\btpl\.(\w+)", js)) | set(re.findall(r'/, "(\w+)", \[', js))
    wanted |= set(re.findall(r"\bs2\.(\w+)", js))
    assert wanted and wanted <= provided, wanted - provided


def test_template_overrides_compile():
    env = Environment(
        loader=ChoiceLoader(
            [
                FileSystemLoader(str(TEMPLATES_DIR)),
                PrefixLoader({"sqladmin_original": PackageLoader("sqladmin", "templates/sqladmin")}),
                PackageLoader("sqladmin", "templates"),
            ]
        ),
        extensions=["jinja2.ext.i18n"],
        autoescape=True,
        enable_async=True,
    )
    for path in TEMPLATES_DIR.joinpath("sqladmin").rglob("*.html"):
        env.get_template(path.relative_to(TEMPLATES_DIR).as_posix())


# --------------------------------------------------------------------------- locale resolution


def _locale_for(headers: dict[str, str], query: str = "", wrap=None) -> str:
    seen = {}

    async def app(scope, receive, send):
        seen["locale"] = sqladmin_i18n.get_locale()

    stack = sqladmin_i18n.LocaleMiddleware(app, i18n_config=i18n_config(), cookie_path="/admin")
    if wrap is not None:
        stack = wrap(stack)
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/admin/",
        "query_string": query.encode(),
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
    }

    async def receive():
        return {"type": "http.request", "body": b""}

    async def send(message):
        pass

    # In a thread of its own: the browser tests' Playwright keeps an event loop running in this one.
    context = contextvars.copy_context()
    with ThreadPoolExecutor(1) as pool:
        pool.submit(context.run, asyncio.run, stack(scope, receive, send)).result()
    return seen["locale"]


def test_i18n_config_always_chinese():
    config = i18n_config()
    assert config.default_locale == LOCALE
    assert config.language_header_name is None
    assert config.language_cookie_name is None
    assert not config.language_switcher  # layout.html shows no language menu
    assert _locale_for({"Accept-Language": "zh-CN,zh;q=0.9"}) == LOCALE
    assert _locale_for({"Accept-Language": "en-US,en;q=0.9"}) == LOCALE
    assert _locale_for({}) == LOCALE
    assert _locale_for({"Cookie": "language=en"}) == LOCALE


def test_lang_query_parameter_is_dropped():
    assert _locale_for({}, "lang=en&page=2", wrap=ChineseOnlyMiddleware) == LOCALE


# --------------------------------------------------------------------------- WTForms


class _TicketForm(ChineseForm):
    title = StringField("标题", [validators.DataRequired()])
    qty = IntegerField("数量", [validators.Optional(), validators.NumberRange(min=3)])
    locked = StringField("锁定", [validators.ReadOnly()])
    extra = JSONField("附加数据")
    paid = SqladminSelectField(
        "已付款",
        choices=[(True, "True"), (False, "False")],
        allow_blank=True,
        coerce=lambda v: str(v) == "True",
    )


def test_chinese_form_required_message():
    form = _TicketForm(FormData([("qty", "1"), ("locked", "x"), ("extra", "{oops")]))
    assert not form.validate()
    required = form.errors["title"][0]
    assert HAN.search(required) and "required" not in required
    assert required == "该字段是必填字段。"
    assert form.errors["qty"] == ["数值不能小于 3。"]
    # WTForms' own zh catalog wrongly says "required" here; admin.po corrects it.
    assert form.errors["locked"] == ["该字段不可编辑。"]
    # sqladmin's JSONField raises a message WTForms does not know.
    assert form.errors["extra"] == ["JSON 格式无效"]


def test_chinese_form_nullable_boolean_labels():
    form = _TicketForm()
    rendered = str(form.paid())
    assert ">是<" in rendered and ">否<" in rendered and ">True<" not in rendered
    submitted = _TicketForm(FormData([("title", "t"), ("paid", "否")]))
    submitted.validate()
    assert submitted.paid.data is False and not submitted.paid.errors


# --------------------------------------------------------------------------- rendered pages


def test_console_pages_render_in_chinese(app, console, session):
    from tests import factories
    from tests.conftest import Console

    factories.user(session, username="boss", superuser=True)
    anonymous = Console(TestClient(app, base_url="http://testserver"))
    anonymous.client.headers["Accept-Language"] = "en-US"
    login = anonymous.client.post(
        "/admin/login", data={"username": "x", "password": "wrong-pass", "csrf_token": anonymous.token()}
    )
    assert login.status_code == 400
    assert "用户名或密码错误" in login.text and "Invalid credentials." not in login.text
    assert '<html lang="zh-CN">' in login.text

    boss = console("boss")
    client = boss.client
    listing = client.get("/admin/branch/list", headers={"Accept-Language": "en-US,en;q=0.9"})
    assert listing.status_code == 200
    for text in ("导出", "操作", "删除所选记录"):
        assert text in listing.text
    assert "/static/wuye/js/flatpickr-zh.js" in listing.text
    assert 'id="wuye-zh-strings"' in listing.text
    assert client.get("/static/wuye/js/flatpickr-zh.js").status_code == 200

    token = boss.csrf()
    created = client.post("/admin/branch/create", data={"name": "", "save": "保存", "csrf_token": token})
    assert created.status_code == 400 and "该字段是必填字段。" in created.text

    missing = client.get("/admin/nothing/list")
    assert missing.status_code == 404 and "页面不存在" in missing.text


def test_chinese_form_plural_message():
    # WTForms picks the message with ngettext(); zh has a single plural form (msgstr[0]).
    class TagsForm(ChineseForm):
        tags = SelectMultipleField("标签", choices=[("a", "甲")])

    for values in (["x"], ["x", "y"]):
        form = TagsForm(FormData([("tags", v) for v in values]))
        assert not form.validate()
        (message,) = form.errors["tags"]  # WTForms joins the invalid values from a set: any order
        assert message.endswith("' 不是此字段的有效选项。")
        assert all(f"'{v}'" in message for v in values)


def test_required_relation_left_empty_says_required(console, session):
    """值班人 and 项目 are required relations (an ajax select and a plain select): empty is "required",
    not "not a valid choice"; a choice that does not exist still is not a valid one."""
    import datetime as dt

    from sqlalchemy import func, select

    from models import DutyLog, Shift
    from tests import factories

    factories.user(session, username="boss", superuser=True)
    boss = console("boss")
    before = session.scalar(select(func.count()).select_from(DutyLog))
    form = {"duty_date": dt.date(2026, 11, 2).isoformat(), "shift": list(Shift)[0].value, "post": "大堂前台",
            "save": "保存", "csrf_token": boss.csrf()}
    empty = boss.client.post("/admin/duty-log/create", data={**form, "project": "", "on_duty": ""})
    assert empty.status_code == 400
    errors = re.findall(r'class="invalid-feedback">\s*(.*?)\s*<', empty.text)
    assert errors.count("该字段是必填字段。") == 2 and "不是有效的选项" not in empty.text, errors
    wrong = boss.client.post("/admin/duty-log/create", data={**form, "project": "999999", "on_duty": ""})
    assert wrong.status_code == 400 and "不是有效的选项" in wrong.text
    assert session.scalar(select(func.count()).select_from(DutyLog)) == before
