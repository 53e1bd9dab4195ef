"""Moat's Python SDK.

The typed layer (`moat._api`: models and one module per operation) is generated from Moat's
OpenAPI document by openapi-python-client (`sdk/generate.sh`); this module adds what an
integration needs on top of it: one client object with a resource per area, pagination that
follows cursors, retries on 429 honouring `Retry-After`, and errors raised as `MoatError`
with the fields of the API's RFC 9457 problem documents.

    from moat import Moat

    client = Moat("https://moat.example.net", token="moat_live_...")
    for threat in client.threats.list(severity="critical", limit=10).threats:
        print(threat.type_, threat.from_, threat.action)
"""

from __future__ import annotations

import enum
import json
import time
import typing
from collections.abc import Iterator
from typing import Any

import httpx

from ._api import AuthenticatedClient
from ._api.api.account import get_me
from ._api.api.domains import create_domain, delete_domain, get_domain, list_domains, verify_domain
from ._api.api.policies import delete_policy, list_policies
from ._api.api.quarantine import get_quarantined, list_quarantine, release_quarantined
from ._api.api.threats import list_threats
from ._api.api.verdicts import get_verdict, list_verdicts
from ._api.models import NewDomain
from ._api.types import Unset

__all__ = ["Moat", "MoatError"]


class MoatError(Exception):
    """An error answer of the API (a problem document), or a failure to reach it.

    `status` is the HTTP status (0 when no answer came), `code` the API's stable
    machine-readable code (`not_found`, `rate_limited`, …), `title` and `detail` its text, and
    `retry_after` the seconds the API asked to wait (429 and 503), when it said.
    """

    def __init__(self, status: int, code: str, title: str, detail: str,
                 retry_after: float | None = None, problem: dict[str, Any] | None = None):
        super().__init__(f"{status} {code}: {detail or title}")
        self.status = status
        self.code = code
        self.title = title
        self.detail = detail
        self.retry_after = retry_after
        self.problem = problem or {}

    @classmethod
    def from_response(cls, status: int, headers: httpx.Headers, content: bytes) -> MoatError:
        try:
            problem = json.loads(content)
            if not isinstance(problem, dict):
                problem = {}
        except ValueError:
            problem = {}
        return cls(
            status,
            str(problem.get("code", "http_error")),
            str(problem.get("title", httpx.codes.get_reason_phrase(status))),
            str(problem.get("detail", content[:200].decode("utf-8", "replace"))),
            _retry_after(headers),
            problem,
        )


def _retry_after(headers: httpx.Headers) -> float | None:
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def _coerce(operation: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
    """Lets callers pass enum parameters as their strings (`severity="critical"`)."""
    hints = typing.get_type_hints(operation.sync_detailed)
    out = {}
    for name, value in kwargs.items():
        if value is None:
            continue
        if isinstance(value, str):
            for t in typing.get_args(hints.get(name)) or (hints.get(name),):
                if isinstance(t, type) and issubclass(t, enum.Enum):
                    value = t(value)
                    break
        out[name] = value
    return out


class Moat:
    """A client of one Moat API with one token.

    `max_retries` answers of 429 (or 503) are waited out, each for the `Retry-After` the API
    gave (at most `max_wait` seconds), before `MoatError` is raised.
    """

    def __init__(self, base_url: str, token: str, *, timeout: float = 30.0,
                 max_retries: int = 3, max_wait: float = 60.0):
        self._api = AuthenticatedClient(
            base_url=base_url.rstrip("/"),
            token=token,
            timeout=httpx.Timeout(timeout),
            raise_on_unexpected_status=False,
        )
        self.max_retries = max_retries
        self.max_wait = max_wait
        self.threats = _Threats(self)
        self.domains = _Domains(self)
        self.policies = _Policies(self)
        self.quarantine = _Quarantine(self)
        self.verdicts = _Verdicts(self)

    def call(self, operation: Any, **kwargs: Any) -> Any:
        """Runs one generated operation (`moat._api.api.<area>.<operation>`) and returns its
        parsed answer; raises `MoatError` for an error answer."""
        kwargs = _coerce(operation, kwargs)
        response = self._retrying(lambda: operation.sync_detailed(client=self._api, **kwargs))
        return response.parsed

    def raw(self, method: str, path: str, *, json_body: Any = None,
            params: dict[str, Any] | None = None) -> Any:
        """Any API call by path, with the same retries and errors; the answer's JSON (for
        shapes the generated layer does not model, such as nested policy conditions)."""
        http = self._api.get_httpx_client()
        response = self._retrying(
            lambda: http.request(method, path, json=json_body, params=params))
        return response.json() if response.content else None

    def _retrying(self, send: Any) -> Any:
        """Sends until the answer is not 429/503 (at most `max_retries` waits); raises
        `MoatError` for an error answer or no answer."""
        attempt = 0
        while True:
            try:
                response = send()
            except httpx.HTTPError as e:
                raise MoatError(0, "unreachable", "Moat did not answer", str(e)) from e
            status = int(response.status_code)
            if status in (429, 503) and attempt < self.max_retries:
                wait = _retry_after(response.headers)
                time.sleep(min(self.max_wait, 1.0 if wait is None else wait))
                attempt += 1
                continue
            if status >= 400:
                raise MoatError.from_response(status, response.headers, response.content)
            return response

    def pages(self, operation: Any, **kwargs: Any) -> Iterator[Any]:
        """Every page of a listing, following `next_cursor` until the last."""
        while True:
            page = self.call(operation, **kwargs)
            yield page
            cursor = getattr(page, "next_cursor", None)
            if not cursor or isinstance(cursor, Unset):
                return
            kwargs["cursor"] = cursor

    def me(self) -> Any:
        """The token's customer, token and scopes."""
        return self.call(get_me)


class _Resource:
    def __init__(self, client: Moat):
        self._c = client


class _Threats(_Resource):
    def list(self, **filters: Any) -> Any:
        """One page of the threat feed (`type`, `severity`, `domain`, `since`, `until`,
        `limit`, `cursor`): `.threats` and `.next_cursor`."""
        return self._c.call(list_threats, **_renamed(filters))

    def iter(self, **filters: Any) -> Iterator[Any]:
        """Every threat matching the filters, page after page."""
        for page in self._c.pages(list_threats, **_renamed(filters)):
            yield from page.threats


class _Quarantine(_Resource):
    def list(self, **filters: Any) -> Any:
        """One page of quarantined messages (`status`, `threat_type`, `from`, `domain`, …)."""
        return self._c.call(list_quarantine, **_renamed(filters))

    def iter(self, **filters: Any) -> Iterator[Any]:
        for page in self._c.pages(list_quarantine, **_renamed(filters)):
            yield from page.data

    def get(self, id: str) -> Any:
        return self._c.call(get_quarantined, id=id)

    def release(self, id: str) -> Any:
        """Delivers a quarantined message to its recipients' real server."""
        return self._c.call(release_quarantined, id=id)


class _Verdicts(_Resource):
    def list(self, **filters: Any) -> Any:
        return self._c.call(list_verdicts, **_renamed(filters))

    def iter(self, **filters: Any) -> Iterator[Any]:
        for page in self._c.pages(list_verdicts, **_renamed(filters)):
            yield from page.data

    def get(self, id: str) -> Any:
        return self._c.call(get_verdict, id=id)


class _Domains(_Resource):
    def list(self) -> Any:
        return self._c.call(list_domains).data

    def create(self, domain: str, **fields: Any) -> Any:
        """Protects a domain (`real_mx_host`, `delivery_mode`, … as the API takes them)."""
        return self._c.call(create_domain, body=NewDomain.from_dict({"domain": domain, **fields}))

    def get(self, id: str) -> Any:
        return self._c.call(get_domain, id=id)

    def verify(self, id: str) -> Any:
        return self._c.call(verify_domain, id=id)

    def delete(self, id: str) -> None:
        self._c.call(delete_domain, id=id)


class _Policies(_Resource):
    def list(self) -> Any:
        return self._c.call(list_policies).data

    def create(self, **fields: Any) -> dict[str, Any]:
        """Creates a policy from the API's JSON shape (`name`, `condition`, `action`, …);
        returns the created policy as JSON (conditions nest, which the typed layer does not
        model in full)."""
        return self._c.raw("POST", "/v1/policies", json_body=fields)

    def delete(self, id: str) -> None:
        self._c.call(delete_policy, id=id)


def _renamed(filters: dict[str, Any]) -> dict[str, Any]:
    """Python names for the query parameters that are keywords (`type`, `from`)."""
    names = {"type": "type_", "from": "from_"}
    return {names.get(k, k): v for k, v in filters.items()}
