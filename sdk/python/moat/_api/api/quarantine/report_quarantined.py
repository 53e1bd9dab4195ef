from http import HTTPStatus
from typing import Any, cast
from urllib.parse import quote

import httpx

from ...client import AuthenticatedClient, Client
from ...types import Response, UNSET
from ... import errors

from ...models.new_report import NewReport
from ...models.problem import Problem
from ...models.report_outcome import ReportOutcome
from typing import cast



def _get_kwargs(
    id: str,
    *,
    body: NewReport,

) -> dict[str, Any]:
    headers: dict[str, Any] = {}


    

    

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/v1/quarantine/{id}/report".format(id=quote(str(id), safe=""),),
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs



def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Problem | ReportOutcome | None:
    if response.status_code == 200:
        response_200 = ReportOutcome.from_dict(response.json())



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

    if response.status_code == 404:
        response_404 = Problem.from_dict(response.json())



        return response_404

    if response.status_code == 409:
        response_409 = Problem.from_dict(response.json())



        return response_409

    if response.status_code == 413:
        response_413 = Problem.from_dict(response.json())



        return response_413

    if response.status_code == 422:
        response_422 = Problem.from_dict(response.json())



        return response_422

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


def _build_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Response[Problem | ReportOutcome]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    id: str,
    *,
    client: AuthenticatedClient | Client,
    body: NewReport,

) -> Response[Problem | ReportOutcome]:
    """ Reports a quarantined message as spam or not spam. Your own spam model learns from it:
    it is added to the gateway's model for your mail only, so no customer's reports move
    another customer's verdicts. A running scanner picks the change up at its next reload.
    At most `policy.reports_per_day` reports a day per customer (429 beyond).

    Args:
        id (str):
        body (NewReport): A report on a quarantined message.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | ReportOutcome]
     """


    kwargs = _get_kwargs(
        id=id,
body=body,

    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)

def sync(
    id: str,
    *,
    client: AuthenticatedClient | Client,
    body: NewReport,

) -> Problem | ReportOutcome | None:
    """ Reports a quarantined message as spam or not spam. Your own spam model learns from it:
    it is added to the gateway's model for your mail only, so no customer's reports move
    another customer's verdicts. A running scanner picks the change up at its next reload.
    At most `policy.reports_per_day` reports a day per customer (429 beyond).

    Args:
        id (str):
        body (NewReport): A report on a quarantined message.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | ReportOutcome
     """


    return sync_detailed(
        id=id,
client=client,
body=body,

    ).parsed

async def asyncio_detailed(
    id: str,
    *,
    client: AuthenticatedClient | Client,
    body: NewReport,

) -> Response[Problem | ReportOutcome]:
    """ Reports a quarantined message as spam or not spam. Your own spam model learns from it:
    it is added to the gateway's model for your mail only, so no customer's reports move
    another customer's verdicts. A running scanner picks the change up at its next reload.
    At most `policy.reports_per_day` reports a day per customer (429 beyond).

    Args:
        id (str):
        body (NewReport): A report on a quarantined message.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | ReportOutcome]
     """


    kwargs = _get_kwargs(
        id=id,
body=body,

    )

    response = await client.get_async_httpx_client().request(
        **kwargs
    )

    return _build_response(client=client, response=response)

async def asyncio(
    id: str,
    *,
    client: AuthenticatedClient | Client,
    body: NewReport,

) -> Problem | ReportOutcome | None:
    """ Reports a quarantined message as spam or not spam. Your own spam model learns from it:
    it is added to the gateway's model for your mail only, so no customer's reports move
    another customer's verdicts. A running scanner picks the change up at its next reload.
    At most `policy.reports_per_day` reports a day per customer (429 beyond).

    Args:
        id (str):
        body (NewReport): A report on a quarantined message.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | ReportOutcome
     """


    return (await asyncio_detailed(
        id=id,
client=client,
body=body,

    )).parsed
