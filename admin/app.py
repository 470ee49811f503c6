"""The Starlette application: the SQLAdmin console at /admin, its security layers and our static files."""

from __future__ import annotations

import contextlib
import gc
import inspect
import os
from pathlib import Path
from typing import Any

import jinja2
from sqladmin import Admin
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.responses import RedirectResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from models import label
from models.db import make_engine, make_sessionmaker, writing

from .auth import ActorGrants, ConsoleAuth, csrf_token
from .i18n import i18n_config, install_chinese
from .jobs import install_jobs, runner_mode_from_env
from .menu import install_menu
from .security import (
    OUTER_ERROR_HANDLERS,
    AllowedHostsMiddleware,
    BodyLimitMiddleware,
    InputGuardMiddleware,
    SecurityHeadersMiddleware,
    install_error_pages,
)
from .views import register_views
from .views.base import lookup_links
from .views.dashboard import install_home
from .views.list_export import export_link
from .views.pages import route_url

HERE = Path(__file__).parent
TITLE = "物业客服后台"
# Who may say, in X-Forwarded-For / X-Forwarded-Proto, which client and scheme a request came from (the
# addresses or networks of the reverse proxies in front); every other sender's headers are ignored.
TRUSTED_PROXIES = "127.0.0.1"


class ConfigError(RuntimeError):
    pass


class _CompiledTemplates(jinja2.BytecodeCache):
    """The templates' compiled code, kept for the process: an app made again (each test makes its own) reads it
    instead of parsing and compiling every template anew on its first render. Keyed by name and source: a
    changed template is compiled again."""

    def __init__(self) -> None:
        self.code: dict[str, bytes] = {}

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        if (code := self.code.get(bucket.key)) is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        self.code[bucket.key] = bucket.bytecode_to_string()


COMPILED_TEMPLATES = _CompiledTemplates()


class ConsoleAdmin(Admin):
    """sqladmin's Admin, finding each view class's ``@action``/``@expose`` methods once per process: it walked every
    member of every view (``inspect.getmembers``) for each app made — three quarters of ``create_app``'s time,
    paid again by every test that makes an app."""

    _decorated: dict[type, list[str]] = {}

    @staticmethod
    def _find_decorated_funcs(view, view_instance, handle_fn) -> None:
        names = ConsoleAdmin._decorated.get(view)
        if names is None:
            funcs = inspect.getmembers(view_instance, predicate=inspect.ismethod)
            ordered = sorted(funcs, key=lambda x: inspect.unwrap(x[1]).__code__.co_firstlineno, reverse=True)
            # only these two markers do anything in the handlers; their order is sqladmin's (last line first)
            names = [name for name, func in ordered if hasattr(func, "_action") or hasattr(func, "_exposed")]
            ConsoleAdmin._decorated[view] = names
        for name in names:
            handle_fn(getattr(view_instance, name), view, view_instance)


def secret_key_from_env() -> str:
    key = os.environ.get("WUYE_SECRET_KEY", "")
    if len(key) < 32:
        raise ConfigError(
            "未设置 WUYE_SECRET_KEY（至少 32 个字符）。生成方法：\n"
            "  export WUYE_SECRET_KEY=$(python -c 'import secrets; print(secrets.token_urlsafe(48))')"
        )
    return key


def trusted_proxies_from_env() -> str:
    return os.environ.get("WUYE_TRUSTED_PROXIES", "").strip() or TRUSTED_PROXIES


def allowed_hosts_from_env() -> list[str]:
    """WUYE_ALLOWED_HOSTS: the host names the console answers to (comma-separated, ``*.example.com`` allowed);
    unset, any."""
    return [name for name in os.environ.get("WUYE_ALLOWED_HOSTS", "").split(",") if name.strip()]


class WriteIntent:
    """A request that may change something (every state change is a POST) begins its transaction by taking
    SQLite's write lock (``models.db.WriteIntent``): two logins or two forms at once then wait for each other."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        with writing():
            await self.app(scope, receive, send)


def create_app(
    engine: Engine | None = None,
    *,
    session_maker: sessionmaker[Session] | None = None,
    secret_key: str | None = None,
    trusted_proxies: str | None = None,
    allowed_hosts: list[str] | None = None,
    run_jobs: str | None = None,
) -> Starlette:
    """The console. Tests hand in a session maker bound to their connection, so each test rolls back.
    ``trusted_proxies``: comma-separated addresses or networks (default ``WUYE_TRUSTED_PROXIES``, else
    127.0.0.1) whose X-Forwarded-For/-Proto are believed — the client address login throttling counts by.
    ``allowed_hosts``: the Host names answered (default ``WUYE_ALLOWED_HOSTS``, else any).
    ``run_jobs``: who runs the 后台任务 (:data:`admin.views.jobs.RUNNER_MODES`; default ``WUYE_JOB_RUNNER``, else
    a thread of this process, started with the app)."""
    session_maker = session_maker or make_sessionmaker(engine or make_engine())
    install_chinese()

    async def home(_request):
        return RedirectResponse("/admin/", status_code=302)

    @contextlib.asynccontextmanager
    async def lifespan(_app):
        jobs = admin.jobs
        if jobs.mode == "thread":
            jobs.runner.start()
        yield
        jobs.runner.stop()

    app = Starlette(
        lifespan=lifespan,
        exception_handlers=OUTER_ERROR_HANDLERS,
        routes=[
            Route("/", home),
            Mount("/static/wuye", StaticFiles(directory=HERE / "statics"), name="wuye_static"),
        ],
        middleware=[
            Middleware(AllowedHostsMiddleware,
                       allowed=allowed_hosts_from_env() if allowed_hosts is None else allowed_hosts),
            Middleware(ProxyHeadersMiddleware, trusted_hosts=trusted_proxies or trusted_proxies_from_env()),
            Middleware(SecurityHeadersMiddleware),
            Middleware(BodyLimitMiddleware),
            Middleware(InputGuardMiddleware),
            Middleware(WriteIntent),
        ],
    )
    app.state.session_maker = session_maker
    auth = ConsoleAuth(secret_key or secret_key_from_env(), session_maker)
    admin = ConsoleAdmin(
        app,
        session_maker=session_maker,
        title=TITLE,
        favicon_url="/static/wuye/img/favicon.svg",  # else every browser asks for /favicon.ico and gets a 404
        templates_dir=str(HERE / "templates"),
        authentication_backend=auth,
        authorization_backend=ActorGrants(),
        i18n_config=i18n_config(),
    )
    # The templates ship with the code and change only with a deploy (which restarts the workers): checking
    # every template file's mtime on every render was a fifth of a list page's time.
    admin.templates.env.auto_reload = False
    admin.templates.env.bytecode_cache = COMPILED_TEMPLATES
    admin.templates.env.globals["csrf_token"] = csrf_token
    admin.templates.env.globals["url_for"] = export_link(remembered_link)
    admin.templates.env.globals["session_clock"] = auth.session_clock
    admin.templates.env.globals["label"] = label  # column headers from the models: {{ label("Bill", "period") }}
    admin.templates.env.globals["lookup_links"] = lookup_links  # a lookup filter's choices (views.base)
    auth.templates = admin.templates
    install_error_pages(admin.admin)
    register_views(admin)
    for route in admin.admin.router.routes:
        # sqladmin logs out and exports on GET, and its actions are GET only: we confirm on GET, then POST — an
        # export audits and may queue a 后台任务 (admin.views.pages.confirm_export)
        endpoint = getattr(route, "endpoint", None)
        if getattr(route, "name", None) in ("logout", "export") or getattr(endpoint, "post_too", False):
            route.methods = {"GET", "HEAD", "POST"}
    install_menu(admin)
    install_home(admin)  # the home page: KPIs against targets, instead of sqladmin's blank index
    install_jobs(admin, run_jobs or runner_mode_from_env())
    app.state.admin = admin
    return app


@jinja2.pass_context
def remembered_link(context: Any, name: str, /, **path_params: Any) -> Any:
    """The templates' ``url_for``, looked up once per console address (``pages.route_url``)."""
    return route_url(context["request"], name, **path_params)


def app_from_env() -> Starlette:
    """The console as ``wuye serve`` runs it in each worker process (uvicorn's ``--factory``): everything from
    the environment."""
    app = create_app(secret_key=secret_key_from_env())
    freeze_startup_objects()
    return app


def freeze_startup_objects() -> None:
    """Moves what the process built at startup (models, mappers, compiled templates, routes: hundreds of thousands
    of objects that live as long as the process) out of the garbage collector's reach. Otherwise every full
    collection, about one per 60 list pages, walks all of them: a 330–420 ms pause of that request (and, under
    load, of every request waiting for the interpreter), 10–25 ms once they are frozen. Collected first, so no
    garbage of the startup is kept for good."""
    gc.collect()
    gc.freeze()
