from http import HTTPStatus
from typing import Any, cast
from urllib.parse import quote

import httpx

from ...client import AuthenticatedClient, Client
from ...types import Response, UNSET
from ... import errors

from ...models.problem import Problem
from ...models.severity import Severity
from ...models.threat_feed import ThreatFeed
from ...models.threat_type import ThreatType
from ...types import UNSET, Unset
from typing import cast
import datetime



def _get_kwargs(
    *,
    type_: ThreatType | Unset = UNSET,
    severity: Severity | Unset = UNSET,
    domain: str | Unset = UNSET,
    since: datetime.datetime | Unset = UNSET,
    until: datetime.datetime | Unset = UNSET,
    limit: int | Unset = UNSET,
    cursor: str | Unset = UNSET,

) -> dict[str, Any]:
    

    

    params: dict[str, Any] = {}

    json_type_: str | Unset = UNSET
    if not isinstance(type_, Unset):
        json_type_ = type_.value

    params["type"] = json_type_

    json_severity: str | Unset = UNSET
    if not isinstance(severity, Unset):
        json_severity = severity.value

    params["severity"] = json_severity

    params["domain"] = domain

    json_since: str | Unset = UNSET
    if not isinstance(since, Unset):
        json_since = since.isoformat()
    params["since"] = json_since

    json_until: str | Unset = UNSET
    if not isinstance(until, Unset):
        json_until = until.isoformat()
    params["until"] = json_until

    params["limit"] = limit

    params["cursor"] = cursor


    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}


    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/v1/threats",
        "params": params,
    }


    return _kwargs



def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Problem | ThreatFeed | None:
    if response.status_code == 200:
        response_200 = ThreatFeed.from_dict(response.json())



        return response_200

    if response.status_code == 400:
        response_400 = Problem.from_dict(response.json())



        return response_400

    if response.status_code == 401:
        response_401 = Problem.from_dict(response.json())



        return response_401

    if response.status_code == 403:
        response_403 = Problem.from_dict(response.json())



        return response_403

    if response.status_code == 429:
        response_429 = Problem.from_dict(response.json())



        return response_429

    if response.status_code == 503:
        response_503 = Problem.from_dict(response.json())



        return response_503

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Response[Problem | ThreatFeed]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient | Client,
    type_: ThreatType | Unset = UNSET,
    severity: Severity | Unset = UNSET,
    domain: str | Unset = UNSET,
    since: datetime.datetime | Unset = UNSET,
    until: datetime.datetime | Unset = UNSET,
    limit: int | Unset = UNSET,
    cursor: str | Unset = UNSET,

) -> Response[Problem | ThreatFeed]:
    """ Threats found in the customer's mail, newest first.

    Args:
        type_ (ThreatType | Unset): The class of threat a verdict is about. `policy` means a
            customer's own rule fired.
        severity (Severity | Unset): How bad a finding is. A class's findings of `high` or
            `critical` quarantine the message on
            their own; `low` and `medium` ones are recorded (and feed scores) without acting alone.
        domain (str | Unset):
        since (datetime.datetime | Unset):
        until (datetime.datetime | Unset):
        limit (int | Unset):
        cursor (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | ThreatFeed]
     """


    kwargs = _get_kwargs(
        type_=type_,
severity=severity,
domain=domain,
since=since,
until=until,
limit=limit,
cursor=cursor,

    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)

def sync(
    *,
    client: AuthenticatedClient | Client,
    type_: ThreatType | Unset = UNSET,
    severity: Severity | Unset = UNSET,
    domain: str | Unset = UNSET,
    since: datetime.datetime | Unset = UNSET,
    until: datetime.datetime | Unset = UNSET,
    limit: int | Unset = UNSET,
    cursor: str | Unset = UNSET,

) -> Problem | ThreatFeed | None:
    """ Threats found in the customer's mail, newest first.

    Args:
        type_ (ThreatType | Unset): The class of threat a verdict is about. `policy` means a
            customer's own rule fired.
        severity (Severity | Unset): How bad a finding is. A class's findings of `high` or
            `critical` quarantine the message on
            their own; `low` and `medium` ones are recorded (and feed scores) without acting alone.
        domain (str | Unset):
        since (datetime.datetime | Unset):
        until (datetime.datetime | Unset):
        limit (int | Unset):
        cursor (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | ThreatFeed
     """


    return sync_detailed(
        client=client,
type_=type_,
severity=severity,
domain=domain,
since=since,
until=until,
limit=limit,
cursor=cursor,

    ).parsed

async def asyncio_detailed(
    *,
    client: AuthenticatedClient | Client,
    type_: ThreatType | Unset = UNSET,
    severity: Severity | Unset = UNSET,
    domain: str | Unset = UNSET,
    since: datetime.datetime | Unset = UNSET,
    until: datetime.datetime | Unset = UNSET,
    limit: int | Unset = UNSET,
    cursor: str | Unset = UNSET,

) -> Response[Problem | ThreatFeed]:
    """ Threats found in the customer's mail, newest first.

    Args:
        type_ (ThreatType | Unset): The class of threat a verdict is about. `policy` means a
            customer's own rule fired.
        severity (Severity | Unset): How bad a finding is. A class's findings of `high` or
            `critical` quarantine the message on
            their own; `low` and `medium` ones are recorded (and feed scores) without acting alone.
        domain (str | Unset):
        since (datetime.datetime | Unset):
        until (datetime.datetime | Unset):
        limit (int | Unset):
        cursor (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | ThreatFeed]
     """


    kwargs = _get_kwargs(
        type_=type_,
severity=severity,
domain=domain,
since=since,
until=until,
limit=limit,
cursor=cursor,

    )

    response = await client.get_async_httpx_client().request(
        **kwargs
    )

    return _build_response(client=client, response=response)

async def asyncio(
    *,
    client: AuthenticatedClient | Client,
    type_: ThreatType | Unset = UNSET,
    severity: Severity | Unset = UNSET,
    domain: str | Unset = UNSET,
    since: datetime.datetime | Unset = UNSET,
    until: datetime.datetime | Unset = UNSET,
    limit: int | Unset = UNSET,
    cursor: str | Unset = UNSET,

) -> Problem | ThreatFeed | None:
    """ Threats found in the customer's mail, newest first.

    Args:
        type_ (ThreatType | Unset): The class of threat a verdict is about. `policy` means a
            customer's own rule fired.
        severity (Severity | Unset): How bad a finding is. A class's findings of `high` or
            `critical` quarantine the message on
            their own; `low` and `medium` ones are recorded (and feed scores) without acting alone.
        domain (str | Unset):
        since (datetime.datetime | Unset):
        until (datetime.datetime | Unset):
        limit (int | Unset):
        cursor (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | ThreatFeed
     """


    return (await asyncio_detailed(
        client=client,
type_=type_,
severity=severity,
domain=domain,
since=since,
until=until,
limit=limit,
cursor=cursor,

    )).parsed
