from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from typing import cast






T = TypeVar("T", bound="AttachmentTypeIn")



@_attrs_define
class AttachmentTypeIn:
    """ An attachment's content is one of these kinds, told by its bytes: `executable`,
    `script`, `office_macro`, `office_legacy`, `archive`, `html`, `pdf`, `other`.

        Attributes:
            attachment_type_in (list[str]): An attachment's content is one of these kinds, told by its bytes: `executable`,
                `script`, `office_macro`, `office_legacy`, `archive`, `html`, `pdf`, `other`.
     """

    attachment_type_in: list[str]





    def to_dict(self) -> dict[str, Any]:
        attachment_type_in = self.attachment_type_in




        field_dict: dict[str, Any] = {}

        field_dict.update({
            "attachment_type_in": attachment_type_in,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        attachment_type_in = cast(list[str], d.pop("attachment_type_in"))


        attachment_type_in = cls(
            attachment_type_in=attachment_type_in,
        )

        return attachment_type_in

