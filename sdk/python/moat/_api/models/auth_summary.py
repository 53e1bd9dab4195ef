from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from typing import cast

if TYPE_CHECKING:
  from ..models.auth_check import AuthCheck
  from ..models.dmarc_check import DmarcCheck





T = TypeVar("T", bound="AuthSummary")



@_attrs_define
class AuthSummary:
    """ Sender authentication of one message, as recorded with each of its verdicts.

        Attributes:
            arc (AuthCheck): One SPF, DKIM or ARC check.
            dkim (list[AuthCheck]): One entry per DKIM signature.
            dmarc (DmarcCheck): DMARC for the author domain.
            spf (AuthCheck): One SPF, DKIM or ARC check.
     """

    arc: AuthCheck
    dkim: list[AuthCheck]
    dmarc: DmarcCheck
    spf: AuthCheck
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        from ..models.auth_check import AuthCheck # noqa: PLC0415
        from ..models.dmarc_check import DmarcCheck # noqa: PLC0415
        arc = self.arc.to_dict()

        dkim = []
        for dkim_item_data in self.dkim:
            dkim_item = dkim_item_data.to_dict()
            dkim.append(dkim_item)



        dmarc = self.dmarc.to_dict()

        spf = self.spf.to_dict()


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "arc": arc,
            "dkim": dkim,
            "dmarc": dmarc,
            "spf": spf,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.auth_check import AuthCheck # noqa: PLC0415
        from ..models.dmarc_check import DmarcCheck # noqa: PLC0415
        d = dict(src_dict)
        arc = AuthCheck.from_dict(d.pop("arc"))




        dkim = []
        _dkim = d.pop("dkim")
        for dkim_item_data in (_dkim):
            dkim_item = AuthCheck.from_dict(dkim_item_data)



            dkim.append(dkim_item)


        dmarc = DmarcCheck.from_dict(d.pop("dmarc"))




        spf = AuthCheck.from_dict(d.pop("spf"))




        auth_summary = cls(
            arc=arc,
            dkim=dkim,
            dmarc=dmarc,
            spf=spf,
        )


        auth_summary.additional_properties = d
        return auth_summary

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())

    def __getitem__(self, key: str) -> Any:
        return self.additional_properties[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.additional_properties[key] = value

    def __delitem__(self, key: str) -> None:
        del self.additional_properties[key]

    def __contains__(self, key: str) -> bool:
        return key in self.additional_properties
