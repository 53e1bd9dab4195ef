from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..models.auth_result import AuthResult
from ..types import UNSET, Unset
from typing import cast






T = TypeVar("T", bound="AuthCheck")



@_attrs_define
class AuthCheck:
    """ One SPF, DKIM or ARC check.

        Attributes:
            result (AuthResult): An authentication result (RFC 8601 section 2.7 vocabulary).
            domain (str | Unset): SPF: the domain checked (MAIL FROM, or HELO for bounces); DKIM: the signing domain (d=).
            reason (None | str | Unset): Why the result is not a pass, when known.
            selector (str | Unset): DKIM: the selector (s=).
     """

    result: AuthResult
    domain: str | Unset = UNSET
    reason: None | str | Unset = UNSET
    selector: str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        result = self.result.value

        domain = self.domain

        reason: None | str | Unset
        if isinstance(self.reason, Unset):
            reason = UNSET
        else:
            reason = self.reason

        selector = self.selector


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "result": result,
        })
        if domain is not UNSET:
            field_dict["domain"] = domain
        if reason is not UNSET:
            field_dict["reason"] = reason
        if selector is not UNSET:
            field_dict["selector"] = selector

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        result = AuthResult(d.pop("result"))




        domain = d.pop("domain", UNSET)

        def _parse_reason(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        reason = _parse_reason(d.pop("reason", UNSET))


        selector = d.pop("selector", UNSET)

        auth_check = cls(
            result=result,
            domain=domain,
            reason=reason,
            selector=selector,
        )


        auth_check.additional_properties = d
        return auth_check

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
