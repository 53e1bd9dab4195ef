from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..models.token_kind import TokenKind
from ..models.token_scope import TokenScope
from ..types import UNSET, Unset
from typing import cast
import datetime






T = TypeVar("T", bound="TokenOut")



@_attrs_define
class TokenOut:
    """ An API token (never its secret, except once in the creation response).

        Attributes:
            created_at (datetime.datetime):
            id (str):
            kind (TokenKind): Live tokens act on real data; test tokens on the customer's sandbox.
            prefix (str): The first characters of the secret.
            scope (TokenScope): What a token may do. Each scope includes the ones before it: `read_only` reads
                everything; `quarantine` also releases, deletes and reports quarantined mail; `admin` also
                changes domains, policies, sender rules, webhooks and tokens.
            token (None | str | Unset): The secret: only in the answer to `POST /v1/tokens`, shown once.
     """

    created_at: datetime.datetime
    id: str
    kind: TokenKind
    prefix: str
    scope: TokenScope
    token: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        created_at = self.created_at.isoformat()

        id = self.id

        kind = self.kind.value

        prefix = self.prefix

        scope = self.scope.value

        token: None | str | Unset
        if isinstance(self.token, Unset):
            token = UNSET
        else:
            token = self.token


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "created_at": created_at,
            "id": id,
            "kind": kind,
            "prefix": prefix,
            "scope": scope,
        })
        if token is not UNSET:
            field_dict["token"] = token

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        created_at = datetime.datetime.fromisoformat(d.pop("created_at"))




        id = d.pop("id")

        kind = TokenKind(d.pop("kind"))




        prefix = d.pop("prefix")

        scope = TokenScope(d.pop("scope"))




        def _parse_token(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        token = _parse_token(d.pop("token", UNSET))


        token_out = cls(
            created_at=created_at,
            id=id,
            kind=kind,
            prefix=prefix,
            scope=scope,
            token=token,
        )


        token_out.additional_properties = d
        return token_out

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())

    def __getitem__(self, key: str) -> Any:
        return self.additional_properties[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.additional_properties[key] = value

    def __delitem__(self, key: str) -> None:
        del self.additional_properties[key]

    def __contains__(self, key: str) -> bool:
        return key in self.additional_properties
