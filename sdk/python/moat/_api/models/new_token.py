from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..models.token_kind import TokenKind
from ..models.token_scope import TokenScope
from ..types import UNSET, Unset






T = TypeVar("T", bound="NewToken")



@_attrs_define
class NewToken:
    """ A token to create.

        Attributes:
            kind (TokenKind | Unset): Live tokens act on real data; test tokens on the customer's sandbox. Default:
                TokenKind.LIVE.
            scope (TokenScope | Unset): What a token may do. Each scope includes the ones before it: `read_only` reads
                everything; `quarantine` also releases, deletes and reports quarantined mail; `admin` also
                changes domains, policies, sender rules, webhooks and tokens. Default: TokenScope.ADMIN.
     """

    kind: TokenKind | Unset = TokenKind.LIVE
    scope: TokenScope | Unset = TokenScope.ADMIN





    def to_dict(self) -> dict[str, Any]:
        kind: str | Unset = UNSET
        if not isinstance(self.kind, Unset):
            kind = self.kind.value


        scope: str | Unset = UNSET
        if not isinstance(self.scope, Unset):
            scope = self.scope.value



        field_dict: dict[str, Any] = {}

        field_dict.update({
        })
        if kind is not UNSET:
            field_dict["kind"] = kind
        if scope is not UNSET:
            field_dict["scope"] = scope

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        _kind = d.pop("kind", UNSET)
        kind: TokenKind | Unset
        if isinstance(_kind,  Unset):
            kind = UNSET
        else:
            kind = TokenKind(_kind)




        _scope = d.pop("scope", UNSET)
        scope: TokenScope | Unset
        if isinstance(_scope,  Unset):
            scope = UNSET
        else:
            scope = TokenScope(_scope)




        new_token = cls(
            kind=kind,
            scope=scope,
        )

        return new_token

