from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from typing import cast






T = TypeVar("T", bound="HeaderContainsHeaderContainsArgs")



@_attrs_define
class HeaderContainsHeaderContainsArgs:
    """ A header of the given name contains any of the literals.

        Attributes:
            name (str):
            values (list[str]):
     """

    name: str
    values: list[str]





    def to_dict(self) -> dict[str, Any]:
        name = self.name

        values = self.values




        field_dict: dict[str, Any] = {}

        field_dict.update({
            "name": name,
            "values": values,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        name = d.pop("name")

        values = cast(list[str], d.pop("values"))


        header_contains_header_contains_args = cls(
            name=name,
            values=values,
        )

        return header_contains_header_contains_args

