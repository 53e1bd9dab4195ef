from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from typing import cast






T = TypeVar("T", bound="BodyMatches")



@_attrs_define
class BodyMatches:
    """ Any of the regular expressions matches a text or HTML body part (decoded).

        Attributes:
            body_matches (list[str]): Any of the regular expressions matches a text or HTML body part (decoded).
     """

    body_matches: list[str]





    def to_dict(self) -> dict[str, Any]:
        body_matches = self.body_matches




        field_dict: dict[str, Any] = {}

        field_dict.update({
            "body_matches": body_matches,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        body_matches = cast(list[str], d.pop("body_matches"))


        body_matches = cls(
            body_matches=body_matches,
        )

        return body_matches

