"""`make test` runs `pytest -n 2 --dist loadgroup`: tests marked with the same ``xdist_group``
run on one worker, so the expensive fixtures they share are built once (the demo-sized
province, the report month, each real-export case). pytest 9.2 silently ignores the node id that
pytest-xdist 3.8 rewrites to carry the group (pytest-dev/pytest-xdist#1386): the marks then do
nothing and every worker builds those fixtures again, which is what pinned pytest below 9.2.
This test fails if that happens again after an upgrade."""

from __future__ import annotations

import pytest


@pytest.mark.xdist_group("self_check")
def test_xdist_group_marks_take_effect(request: pytest.FixtureRequest) -> None:
    if not getattr(request.config.option, "loadgroup", False):
        pytest.skip("only meaningful under --dist loadgroup (make test)")
    assert request.node.nodeid.endswith("@self_check"), (
        f"--dist loadgroup ignored this test's xdist_group mark ({request.node.nodeid}); "
        "see pytest-dev/pytest-xdist#1386 and the pytest pin in pyproject.toml"
    )
