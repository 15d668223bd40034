"""SourceMap lookups and scope naming."""

from __future__ import annotations

from engine.ivr.flow import Scope, SourceMap


def test_locate_falls_back_to_the_nearest_enclosing_value() -> None:
    source = SourceMap("f.yaml", values={(): (1, 1), ("nodes",): (2, 3)}, keys={("nodes",): (2, 1)})
    assert source.locate(("nodes", "a", "say")) == (2, 3)
    assert source.locate(("nodes",), key=True) == (2, 1)
    assert source.locate(("other",)) == (1, 1)


def test_qualified_names() -> None:
    assert Scope("pin", "ask", {}, {}, ()).qualified("ask") == "pin/ask"
    assert Scope("", "ask", {}, {}, ()).qualified("ask") == "ask"
