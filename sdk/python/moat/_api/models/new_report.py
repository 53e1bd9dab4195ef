from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..models.report_kind import ReportKind






T = TypeVar("T", bound="NewReport")



@_attrs_define
class NewReport:
    """ A report on a quarantined message.

        Attributes:
            kind (ReportKind): What a report says about a message.
     """

    kind: ReportKind





    def to_dict(self) -> dict[str, Any]:
        kind = self.kind.value


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "kind": kind,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        kind = ReportKind(d.pop("kind"))




        new_report = cls(
            kind=kind,
        )

        return new_report

