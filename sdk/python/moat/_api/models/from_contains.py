from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from typing import cast






T = TypeVar("T", bound="FromContains")



@_attrs_define
class FromContains:
    """ The From header (display name or address) contains any of the literals.

        Attributes:
            from_contains (list[str]): The From header (display name or address) contains any of the literals.
     """

    from_contains: list[str]





    def to_dict(self) -> dict[str, Any]:
        from_contains = self.from_contains




        field_dict: dict[str, Any] = {}

        field_dict.update({
            "from_contains": from_contains,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        from_contains = cast(list[str], d.pop("from_contains"))


        from_contains = cls(
            from_contains=from_contains,
        )

        return from_contains

