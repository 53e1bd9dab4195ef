from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..models.auth_result import AuthResult






T = TypeVar("T", bound="AuthAuthArgs")



@_attrs_define
class AuthAuthArgs:
    """ A sender authentication result: `{"auth": {"check": "dmarc", "result": "fail"}}`;
    checks `spf`, `dkim` (pass when any signature passes), `arc`, `dmarc`.

        Attributes:
            check (str):
            result (AuthResult): An authentication result (RFC 8601 section 2.7 vocabulary).
     """

    check: str
    result: AuthResult





    def to_dict(self) -> dict[str, Any]:
        check = self.check

        result = self.result.value


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "check": check,
            "result": result,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        check = d.pop("check")

        result = AuthResult(d.pop("result"))




        auth_auth_args = cls(
            check=check,
            result=result,
        )

        return auth_auth_args

