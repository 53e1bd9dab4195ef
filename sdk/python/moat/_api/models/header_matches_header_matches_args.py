from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from typing import cast






T = TypeVar("T", bound="HeaderMatchesHeaderMatchesArgs")



@_attrs_define
class HeaderMatchesHeaderMatchesArgs:
    """ Any of the regular expressions matches a value of the named header.

        Attributes:
            name (str):
            patterns (list[str]):
     """

    name: str
    patterns: list[str]





    def to_dict(self) -> dict[str, Any]:
        name = self.name

        patterns = self.patterns




        field_dict: dict[str, Any] = {}

        field_dict.update({
            "name": name,
            "patterns": patterns,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        name = d.pop("name")

        patterns = cast(list[str], d.pop("patterns"))


        header_matches_header_matches_args = cls(
            name=name,
            patterns=patterns,
        )

        return header_matches_header_matches_args

