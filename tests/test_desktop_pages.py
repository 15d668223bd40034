"""The desktop's static pages over HTTP: served openly with the right types, ``/desktop`` redirected to
``/desktop/``, unknown names refused, and every string the pages use present in both languages."""

from __future__ import annotations

import re
from importlib import resources

import pytest

from engine.desktop import PAGES, register
from tests.api_client import TOKENS, serve

STATIC = resources.files("engine.desktop").joinpath("static")
LANGUAGES = ("en", "zh-CN")


@pytest.fixture
def api():
    with serve([register], TOKENS) as api:
        yield api


@pytest.mark.parametrize("name", sorted(PAGES))
def test_every_page_is_served_without_a_token(api, name: str) -> None:
    page = api.call("GET", f"/desktop/{name}")
    assert (page.status, page.headers["content-type"]) == (200, PAGES[name][1])
    assert int(page.headers["content-length"]) == len(page.body) > 100


def test_desktop_without_the_slash_redirects_to_the_page() -> None:
    with serve([register], TOKENS) as api:
        answer = api.call("GET", "/desktop")
    assert (answer.status, answer.headers["location"]) == (308, "/desktop/")


def test_the_pages_load_the_strings_then_their_script(api) -> None:
    agent, wallboard = api.call("GET", "/desktop/").body.decode(), api.call("GET", "/desktop/wallboard").body.decode()
    for html, script in ((agent, "desktop.js"), (wallboard, "wallboard.js")):
        scripts = re.findall(r'<script src="/desktop/([a-z.]+)"></script>', html)
        assert scripts[0] == "lang.js" and script in scripts
    desktop = api.call("GET", "/desktop/desktop.js").body.decode()
    assert "new EventSource(`/api/agents/${me.id}/feed" in desktop and '"/api/login"' in desktop


def test_unknown_pages_are_404_without_reading_anything(api) -> None:
    for path in ("/desktop/secrets.txt", "/desktop/../app.py", "/desktop/%2e%2e/app.py"):
        answer = api.call("GET", path)
        assert answer.status == 404 and "no such" in answer.body["error"]


def _tables() -> dict[str, set[str]]:
    """The keys of each language's strings table in lang.js."""
    text = STATIC.joinpath("lang.js").read_text()
    tables = {}
    for lang in LANGUAGES:
        quoted = f'"{lang}"' if "-" in lang else lang
        body = re.search(rf"\n\s*{re.escape(quoted)}: \{{\n(.*?)\n    \}},", text, re.S)
        assert body, f"lang.js: no strings table for {lang}"
        tables[lang] = set(re.findall(r'"([a-z_]+(?:\.[a-z_0-9]+)*)":', body.group(1)))
    return tables


def test_both_languages_have_every_string() -> None:
    tables = _tables()
    assert len(tables["en"]) > 100  # the whole table was read
    assert tables["en"] == tables["zh-CN"], tables["en"] ^ tables["zh-CN"]


def test_every_string_the_pages_and_scripts_name_is_in_the_tables() -> None:
    keys = _tables()["en"]
    named: set[str] = set()
    for page in ("agent.html", "wallboard.html"):
        named |= set(re.findall(r'data-i18n(?:-placeholder)?="([^"]+)"', STATIC.joinpath(page).read_text()))
    for script in ("desktop.js", "wallboard.js"):
        named |= set(re.findall(r'\bt\("([a-z_.]+)"', STATIC.joinpath(script).read_text()))
    assert named and named - keys == set()


def test_the_chinese_table_is_chinese() -> None:
    text = STATIC.joinpath("lang.js").read_text()
    zh = text[text.index('"zh-CN": {') :]
    labels = dict(re.findall(r'"(state\.[a-z_]+|btn\.[a-z_]+)": "([^"]+)"', zh))
    assert labels["state.ready"] == "就绪" and labels["btn.hold"] == "保持" and labels["btn.barge"] == "强插"
    assert all(re.search(r"[\u4e00-\u9fff]", value) for value in labels.values()), labels
