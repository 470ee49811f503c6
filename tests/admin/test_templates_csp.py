"""The console's CSP (``script-src 'self'``, admin/security.py) blocks inline scripts and inline event handlers:
a template that used one would silently lose its behaviour (a button that does nothing). None of ours may."""

from __future__ import annotations

import re
from pathlib import Path

TEMPLATES = Path(__file__).resolve().parents[2] / "admin" / "templates"
HANDLER = re.compile(r"<[^>]*\son[a-z]+\s*=", re.I | re.S)  # onclick=, onchange= …
SCRIPT = re.compile(r"<script(?P<attrs>[^>]*)>(?P<body>.*?)</script>", re.I | re.S)


def test_no_template_has_an_inline_handler_or_script():
    found = []
    for path in sorted(TEMPLATES.rglob("*.html")):
        text = path.read_text(encoding="utf-8")
        found += [f"{path.relative_to(TEMPLATES)}: {m.group(0)[:60]}" for m in HANDLER.finditer(text)]
        for m in SCRIPT.finditer(text):
            data = 'type="application/json"' in m.group("attrs")  # data for a script, never run
            if "src=" not in m.group("attrs") and not data and m.group("body").strip():
                found.append(f"{path.relative_to(TEMPLATES)}: inline <script>")
    assert found == []


def test_the_check_finds_what_it_looks_for():
    assert HANDLER.search('<button class="x" onclick="window.print()">')
    assert not HANDLER.search('<button data-print class="online">')
    assert SCRIPT.search("<script>alert(1)</script>")
