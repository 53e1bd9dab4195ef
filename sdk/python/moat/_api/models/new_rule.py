from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..models.sender_rule_kind import SenderRuleKind
from ..types import UNSET, Unset
from typing import cast
import datetime






T = TypeVar("T", bound="NewRule")



@_attrs_define
class NewRule:
    """ An allow or block entry to add.

        Attributes:
            kind (SenderRuleKind): Whether a sender rule lets mail through or keeps it out.
            sender (str): `user@example.com`, `example.com` or `*.example.com`. Example: billing@partner.example.
            expires_at (datetime.datetime | None | Unset): RFC 3339; the rule stops applying then.
            require_auth (bool | Unset): Allow entries apply only to senders that authenticate (default true). Default:
                True.
     """

    kind: SenderRuleKind
    sender: str
    expires_at: datetime.datetime | None | Unset = UNSET
    require_auth: bool | Unset = True





    def to_dict(self) -> dict[str, Any]:
        kind = self.kind.value

        sender = self.sender

        expires_at: None | str | Unset
        if isinstance(self.expires_at, Unset):
            expires_at = UNSET
        elif isinstance(self.expires_at, datetime.datetime):
            expires_at = self.expires_at.isoformat()
        else:
            expires_at = self.expires_at

        require_auth = self.require_auth


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "kind": kind,
            "sender": sender,
        })
        if expires_at is not UNSET:
            field_dict["expires_at"] = expires_at
        if require_auth is not UNSET:
            field_dict["require_auth"] = require_auth

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        kind = SenderRuleKind(d.pop("kind"))




        sender = d.pop("sender")

        def _parse_expires_at(data: object) -> datetime.datetime | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                expires_at_type_0 = datetime.datetime.fromisoformat(data)



                return expires_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None | Unset, data)

        expires_at = _parse_expires_at(d.pop("expires_at", UNSET))


        require_auth = d.pop("require_auth", UNSET)

        new_rule = cls(
            kind=kind,
            sender=sender,
            expires_at=expires_at,
            require_auth=require_auth,
        )

        return new_rule

