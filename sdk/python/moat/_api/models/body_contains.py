from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from typing import cast






T = TypeVar("T", bound="BodyContains")



@_attrs_define
class BodyContains:
    """ Any text or HTML body part contains any of the literals.

        Attributes:
            body_contains (list[str]): Any text or HTML body part contains any of the literals.
     """

    body_contains: list[str]





    def to_dict(self) -> dict[str, Any]:
        body_contains = self.body_contains




        field_dict: dict[str, Any] = {}

        field_dict.update({
            "body_contains": body_contains,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        body_contains = cast(list[str], d.pop("body_contains"))


        body_contains = cls(
            body_contains=body_contains,
        )

        return body_contains

