from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from typing import cast






T = TypeVar("T", bound="SubjectContains")



@_attrs_define
class SubjectContains:
    """ The Subject header contains any of the literals.

        Attributes:
            subject_contains (list[str]): The Subject header contains any of the literals.
     """

    subject_contains: list[str]





    def to_dict(self) -> dict[str, Any]:
        subject_contains = self.subject_contains




        field_dict: dict[str, Any] = {}

        field_dict.update({
            "subject_contains": subject_contains,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        subject_contains = cast(list[str], d.pop("subject_contains"))


        subject_contains = cls(
            subject_contains=subject_contains,
        )

        return subject_contains

