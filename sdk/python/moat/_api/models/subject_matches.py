from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from typing import cast






T = TypeVar("T", bound="SubjectMatches")



@_attrs_define
class SubjectMatches:
    """ Any of the regular expressions (Hyperscan syntax, case-insensitive) matches the subject.

        Attributes:
            subject_matches (list[str]): Any of the regular expressions (Hyperscan syntax, case-insensitive) matches the
                subject.
     """

    subject_matches: list[str]





    def to_dict(self) -> dict[str, Any]:
        subject_matches = self.subject_matches




        field_dict: dict[str, Any] = {}

        field_dict.update({
            "subject_matches": subject_matches,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        subject_matches = cast(list[str], d.pop("subject_matches"))


        subject_matches = cls(
            subject_matches=subject_matches,
        )

        return subject_matches

