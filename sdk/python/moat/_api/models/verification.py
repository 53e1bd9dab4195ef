from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..types import UNSET, Unset
from typing import cast

if TYPE_CHECKING:
  from ..models.domain_out import DomainOut





T = TypeVar("T", bound="Verification")



@_attrs_define
class Verification:
    """ The outcome of `POST /v1/domains/{id}/verify`.

        Attributes:
            domain (DomainOut): A protected domain.
            found (list[str]): The MX hosts the look-up found, lowest preference first.
            mx_points_here (bool): Whether a MX record of the domain names this gateway (mail arrives only once it does).
            verified (bool): Whether ownership is proven (the verification TXT record was found) and the domain
                is active.
            detail (None | str | Unset): Why it is not verified, or what is still missing.
     """

    domain: DomainOut
    found: list[str]
    mx_points_here: bool
    verified: bool
    detail: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        from ..models.domain_out import DomainOut # noqa: PLC0415
        domain = self.domain.to_dict()

        found = self.found



        mx_points_here = self.mx_points_here

        verified = self.verified

        detail: None | str | Unset
        if isinstance(self.detail, Unset):
            detail = UNSET
        else:
            detail = self.detail


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "domain": domain,
            "found": found,
            "mx_points_here": mx_points_here,
            "verified": verified,
        })
        if detail is not UNSET:
            field_dict["detail"] = detail

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.domain_out import DomainOut # noqa: PLC0415
        d = dict(src_dict)
        domain = DomainOut.from_dict(d.pop("domain"))




        found = cast(list[str], d.pop("found"))


        mx_points_here = d.pop("mx_points_here")

        verified = d.pop("verified")

        def _parse_detail(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        detail = _parse_detail(d.pop("detail", UNSET))


        verification = cls(
            domain=domain,
            found=found,
            mx_points_here=mx_points_here,
            verified=verified,
            detail=detail,
        )


        verification.additional_properties = d
        return verification

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
