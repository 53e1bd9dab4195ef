from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from typing import cast






T = TypeVar("T", bound="AttachmentExtIn")



@_attrs_define
class AttachmentExtIn:
    """ An attachment has one of these extensions (without the dot) in any name a mail client
    might show for it.

        Attributes:
            attachment_ext_in (list[str]): An attachment has one of these extensions (without the dot) in any name a mail
                client
                might show for it.
     """

    attachment_ext_in: list[str]





    def to_dict(self) -> dict[str, Any]:
        attachment_ext_in = self.attachment_ext_in




        field_dict: dict[str, Any] = {}

        field_dict.update({
            "attachment_ext_in": attachment_ext_in,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        attachment_ext_in = cast(list[str], d.pop("attachment_ext_in"))


        attachment_ext_in = cls(
            attachment_ext_in=attachment_ext_in,
        )

        return attachment_ext_in

