"""The sidebar menu, drawn once per kind of user instead of on every page.

Which entries a user sees depends only on what the request's actor carries — the grants (read with the user on
every request, so a role changed shows on the next page), the project scope, whether anyone is logged in — and
on the console's address (the links). The menu is drawn once per such key, kept in a small LRU, and each page
only marks its own entry (and that entry's category) active: drawing it asked every view whether it is
visible and accessible and built every link, about an eighth of a list page's time.
"""

from __future__ import annotations

import itertools
import re
from collections import OrderedDict
from dataclasses import dataclass

from markupsafe import Markup
from sqladmin import Admin
from sqladmin._menu import CategoryMenu, ItemMenu, ViewMenu
from starlette.datastructures import URL
from starlette.requests import Request

from .views.pages import request_actor

SIZE = 256  # kinds of user (roles × scopes) a process keeps; the least recently drawn goes first
_MARK = re.compile(r"wuye-menu-(\d+)")


@dataclass(frozen=True)
class Entry:
    name: str
    icon: str | None
    url: str
    mark: str  # stands where "active" goes; replaced per request
    children: tuple[Entry, ...] | None  # None: a link; else a category


@dataclass(frozen=True)
class Drawn:
    html: str
    by_identity: dict[str, tuple[str, ...]]  # a model view's identity → the marks it makes active
    by_path: dict[str, tuple[str, ...]]  # a page's path (no trailing /) → the marks it makes active


class SidebarMenu:
    def __init__(self, admin: Admin) -> None:
        self.admin = admin
        self.drawn: OrderedDict[tuple, Drawn] = OrderedDict()

    def key(self, request: Request) -> tuple:
        actor = request_actor(request)
        return (str(request.base_url), actor.user_id is not None, actor.project_ids, actor.grants)

    async def __call__(self, request: Request) -> Markup:
        key = self.key(request)
        drawn = self.drawn.get(key)
        if drawn is None:
            drawn = self.drawn[key] = await self.draw(request)
            if len(self.drawn) > SIZE:
                self.drawn.popitem(last=False)
        else:
            self.drawn.move_to_end(key)
        identity = request.path_params.get("identity")
        active = set(drawn.by_identity.get(identity, ()) if identity else ())
        active.update(drawn.by_path.get(request.url.path.rstrip("/"), ()))
        return Markup(_MARK.sub(lambda m: "active" if m[0] in active else "", drawn.html))

    async def draw(self, request: Request) -> Drawn:
        by_identity: dict[str, tuple[str, ...]] = {}
        by_path: dict[str, tuple[str, ...]] = {}
        count = itertools.count()

        def link(item: ViewMenu, parent: str | None) -> Entry:
            mark = f"wuye-menu-{next(count)}"
            url = str(item.url(request))
            marks = (mark,) if parent is None else (mark, parent)
            if item.view.is_model:  # as sqladmin's ViewMenu.is_active: a model view by identity, a page by path
                by_identity.setdefault(item.view.identity, marks)
            else:
                by_path.setdefault(URL(url).path.rstrip("/"), marks)
            return Entry(item.display_name, item.icon, url, mark, None)

        def shown(item: ItemMenu) -> bool:
            return item.is_visible(request) and item.is_accessible(request)

        entries = []
        for item in self.admin._menu.items:
            if not shown(item):
                continue
            if isinstance(item, ViewMenu):
                entries.append(link(item, None))
            elif isinstance(item, CategoryMenu):
                mark = f"wuye-menu-{next(count)}"
                children = tuple(link(child, mark) for child in item.children if shown(child))
                entries.append(Entry(item.display_name, item.icon, "#", mark, children))
        template = self.admin.templates.env.get_template("wuye/menu.html")
        html = await template.render_async(entries=entries)
        return Drawn(html, by_identity, by_path)


def install_menu(admin: Admin) -> None:
    """``{{ sidebar_menu(request) }}`` in layout.html."""
    admin.templates.env.globals["sidebar_menu"] = SidebarMenu(admin)
