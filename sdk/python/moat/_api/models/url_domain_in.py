from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from typing import cast






T = TypeVar("T", bound="UrlDomainIn")



@_attrs_define
class UrlDomainIn:
    """ A link in the message (HTML anchors and bare URLs) points to one of these domains or a
    subdomain of one (`example.com` covers `login.example.com`).

        Attributes:
            url_domain_in (list[str]): A link in the message (HTML anchors and bare URLs) points to one of these domains or
                a
                subdomain of one (`example.com` covers `login.example.com`).
     """

    url_domain_in: list[str]





    def to_dict(self) -> dict[str, Any]:
        url_domain_in = self.url_domain_in




        field_dict: dict[str, Any] = {}

        field_dict.update({
            "url_domain_in": url_domain_in,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        url_domain_in = cast(list[str], d.pop("url_domain_in"))


        url_domain_in = cls(
            url_domain_in=url_domain_in,
        )

        return url_domain_in

