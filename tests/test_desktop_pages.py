"""The desktop's static pages: served with the right types, unknown names refused."""

from __future__ import annotations

import pytest

from engine.api.http import ApiError, Raw, Request, Router
from engine.desktop import PAGES, register


def _get(name: str) -> Raw:
    router = Router()
    register(router)
    handler, groups = router.find("GET", f"/desktop/{name}")
    return handler(Request("GET", f"/desktop/{name}", {}, None, {}), **groups)


@pytest.mark.parametrize("name", sorted(PAGES))
def test_every_page_is_served_without_a_token(name: str) -> None:
    page = _get(name)
    body = b"".join(page.body)
    assert page.status == "200 OK" and dict(page.headers)["Content-Type"] == PAGES[name][1]
    assert int(dict(page.headers)["Content-Length"]) == len(body) > 100


def test_the_pages_load_their_script_and_use_the_api() -> None:
    html = b"".join(_get("").body).decode()
    script = b"".join(_get("desktop.js").body).decode()
    assert '<script src="/desktop/desktop.js"></script>' in html
    assert "new EventSource(`/api/agents/${me}/feed" in script and '"/api/login"' in script


def test_unknown_pages_are_404() -> None:
    with pytest.raises(ApiError) as err:
        _get("secrets.txt")
    assert err.value.status == 404
