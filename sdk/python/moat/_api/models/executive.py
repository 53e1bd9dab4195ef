from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..types import UNSET, Unset
from typing import cast






T = TypeVar("T", bound="Executive")



@_attrs_define
class Executive:
    """ A person whose name impersonators borrow (business email compromise).

        Attributes:
            name (str): The name as it appears in a From display name ("Jane Doe").
            addresses (list[str] | Unset): The executive's real addresses; mail in their name from any other address is
                suspect.
     """

    name: str
    addresses: list[str] | Unset = UNSET





    def to_dict(self) -> dict[str, Any]:
        name = self.name

        addresses: list[str] | Unset = UNSET
        if not isinstance(self.addresses, Unset):
            addresses = self.addresses




        field_dict: dict[str, Any] = {}

        field_dict.update({
            "name": name,
        })
        if addresses is not UNSET:
            field_dict["addresses"] = addresses

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        name = d.pop("name")

        addresses = cast(list[str], d.pop("addresses", UNSET))


        executive = cls(
            name=name,
            addresses=addresses,
        )

        return executive

