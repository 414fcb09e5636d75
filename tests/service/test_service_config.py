"""configs/service.yaml: the shipped file validates; bad values are errors naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.config import ConfigError, load_config
from service.config import ServiceConfig
from tests.conftest import ROOT


def test_the_shipped_service_config_validates() -> None:
    cfg = load_config(ROOT / "configs" / "service.yaml", ServiceConfig)
    assert cfg.four_eyes and cfg.trusted_proxies == [] and cfg.anchors is not None
    assert cfg.anchors.private_key is not None  # the demo's; a bureau leaves it out
    policy = cfg.policy()
    assert policy.max_failures == 5 and policy.four_eyes


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("trusted_proxies: [not-an-address]\n", "trusted_proxies"),
        ("login: {max_failures: 0}\n", "login.max_failures"),
        ("seal_check_seconds: -1\n", "seal_check_seconds"),
        ("four_eye: false\n", "four_eye"),  # a typo is an error, not a silently ignored key
        ("anchors: {file: a.jsonl}\n", "anchors.public_key"),
    ],
)
def test_bad_values_name_the_key(tmp_path: Path, text: str, key: str) -> None:
    path = tmp_path / "service.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        load_config(path, ServiceConfig)


def test_a_proxy_network_is_trusted_and_nothing_else() -> None:
    cfg = ServiceConfig(trusted_proxies=["10.1.0.0/16", "192.0.2.7"])
    assert cfg.trusts("10.1.200.3") and cfg.trusts("192.0.2.7")
    assert not cfg.trusts("10.2.0.1") and not cfg.trusts("not-an-address")
