from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from typing import cast






T = TypeVar("T", bound="SenderDomainIn")



@_attrs_define
class SenderDomainIn:
    """ The envelope sender's or From address's domain is one of these (exact, case-insensitive).

        Attributes:
            sender_domain_in (list[str]): The envelope sender's or From address's domain is one of these (exact, case-
                insensitive).
     """

    sender_domain_in: list[str]





    def to_dict(self) -> dict[str, Any]:
        sender_domain_in = self.sender_domain_in




        field_dict: dict[str, Any] = {}

        field_dict.update({
            "sender_domain_in": sender_domain_in,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        sender_domain_in = cast(list[str], d.pop("sender_domain_in"))


        sender_domain_in = cls(
            sender_domain_in=sender_domain_in,
        )

        return sender_domain_in

