"""`configs/service.yaml`: the staff service's settings, validated (unknown keys rejected).

Which proxies may speak for a client's address, how logins are throttled, whether account
grants need a second administrator, how often sealed months are checked and re-hashed, and
where the signed anchors of the chains are (`service.anchor`).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from service.accounts import Policy


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LoginConfig(_Strict):
    #: failures of one user name from one address within the window before back-off starts
    max_failures: int = Field(5, ge=1)
    window_minutes: float = Field(15, gt=0)
    #: the first back-off; doubled for every further failure, up to backoff_max_minutes
    backoff_base_seconds: float = Field(30, gt=0)
    backoff_max_minutes: float = Field(15, gt=0)
    #: distinct user names failing from one address within the window that are audited as
    #: password spraying (an alert, not a lock: an office shares one address)
    spray_names: int = Field(10, ge=2)


class AnchorConfig(_Strict):
    #: the signed anchors: keep this file on a second location the service cannot rewrite
    file: Path
    #: the service and `audit verify` hold only the public key
    public_key: Path
    #: used by `riskclass seal` and `riskclass audit anchor` (the operator's account), never
    #: by the service; leave it out on the service's machine
    private_key: Path | None = None
    #: anchors older than this are reported (the timer stopped, or anchors were cut off)
    max_age_minutes: float = Field(180, gt=0)


class ServiceConfig(_Strict):
    #: addresses or networks of reverse proxies whose X-Forwarded-For is believed; from any
    #: other peer the header is ignored and the peer's own address is the client
    trusted_proxies: list[str] = []
    #: creating or widening an account that sees named data (or an administrator) needs a
    #: second administrator; false only for a one-person office (audited either way)
    four_eyes: bool = True
    login: LoginConfig = LoginConfig()
    #: a served month is checked against its seal at most this often (seconds)
    seal_check_seconds: float = Field(5, ge=0)
    #: background re-hashing of every sealed file, and of the whole audit log, each round
    rehash_mib_per_second: float = Field(50, gt=0)
    full_check_minutes: float = Field(10, gt=0)
    #: service processes (each holds the served month in memory: about 1 GiB per 100k
    #: enterprises); more than the machine's cores is no faster
    workers: int = Field(1, ge=1, le=64)
    #: threads rendering pages in each process (one interpreter lock: a few are enough)
    worker_threads: int = Field(2, ge=1, le=64)
    #: the largest request body accepted (forms are small; a bigger body is refused with 413)
    max_body_kib: int = Field(64, ge=1)
    api_max_body_kib: int = Field(8192, ge=1)  # the platform API posts results in bulk
    anchors: AnchorConfig | None = None

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for v in value:
            try:
                ipaddress.ip_network(v, strict=False)
            except ValueError:
                raise ValueError(f"{v!r} is not an IP address or network") from None
        return value

    def policy(self) -> Policy:
        lg = self.login
        return Policy(
            max_failures=lg.max_failures,
            window=dt.timedelta(minutes=lg.window_minutes),
            backoff_base=dt.timedelta(seconds=lg.backoff_base_seconds),
            backoff_max=dt.timedelta(minutes=lg.backoff_max_minutes),
            spray_names=lg.spray_names,
            four_eyes=self.four_eyes,
        )

    def trusts(self, peer: str) -> bool:
        try:
            ip = ipaddress.ip_address(peer)
        except ValueError:
            return False
        return any(ip in ipaddress.ip_network(n, strict=False) for n in self.trusted_proxies)
