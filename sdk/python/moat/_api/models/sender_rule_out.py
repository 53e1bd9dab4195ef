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






T = TypeVar("T", bound="SenderRuleOut")



@_attrs_define
class SenderRuleOut:
    """ An allow or block entry of a domain.

        Attributes:
            created_at (datetime.datetime):
            domain_id (str):
            hits (int): Messages the rule has applied to.
            id (str):
            kind (SenderRuleKind): Whether a sender rule lets mail through or keeps it out.
            require_auth (bool):
            sender (str):
            expires_at (datetime.datetime | None | Unset):
     """

    created_at: datetime.datetime
    domain_id: str
    hits: int
    id: str
    kind: SenderRuleKind
    require_auth: bool
    sender: str
    expires_at: datetime.datetime | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        created_at = self.created_at.isoformat()

        domain_id = self.domain_id

        hits = self.hits

        id = self.id

        kind = self.kind.value

        require_auth = self.require_auth

        sender = self.sender

        expires_at: None | str | Unset
        if isinstance(self.expires_at, Unset):
            expires_at = UNSET
        elif isinstance(self.expires_at, datetime.datetime):
            expires_at = self.expires_at.isoformat()
        else:
            expires_at = self.expires_at


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "created_at": created_at,
            "domain_id": domain_id,
            "hits": hits,
            "id": id,
            "kind": kind,
            "require_auth": require_auth,
            "sender": sender,
        })
        if expires_at is not UNSET:
            field_dict["expires_at"] = expires_at

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        created_at = datetime.datetime.fromisoformat(d.pop("created_at"))




        domain_id = d.pop("domain_id")

        hits = d.pop("hits")

        id = d.pop("id")

        kind = SenderRuleKind(d.pop("kind"))




        require_auth = d.pop("require_auth")

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


        sender_rule_out = cls(
            created_at=created_at,
            domain_id=domain_id,
            hits=hits,
            id=id,
            kind=kind,
            require_auth=require_auth,
            sender=sender,
            expires_at=expires_at,
        )


        sender_rule_out.additional_properties = d
        return sender_rule_out

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
