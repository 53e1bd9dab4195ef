from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from typing import cast






T = TypeVar("T", bound="ReplyToDomainIn")



@_attrs_define
class ReplyToDomainIn:
    """ The `Reply-To` address's domain is one of these (exact, case-insensitive).

        Attributes:
            reply_to_domain_in (list[str]): The `Reply-To` address's domain is one of these (exact, case-insensitive).
     """

    reply_to_domain_in: list[str]





    def to_dict(self) -> dict[str, Any]:
        reply_to_domain_in = self.reply_to_domain_in




        field_dict: dict[str, Any] = {}

        field_dict.update({
            "reply_to_domain_in": reply_to_domain_in,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        reply_to_domain_in = cast(list[str], d.pop("reply_to_domain_in"))


        reply_to_domain_in = cls(
            reply_to_domain_in=reply_to_domain_in,
        )

        return reply_to_domain_in

