from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..models.token_scope import TokenScope
from typing import cast

if TYPE_CHECKING:
  from ..models.customer_out import CustomerOut
  from ..models.token_out import TokenOut





T = TypeVar("T", bound="Me")



@_attrs_define
class Me:
    """ `GET /v1/me`.

        Attributes:
            customer (CustomerOut): The token's owner.
            scopes (list[TokenScope]): What the token may do; each scope includes the narrower ones.
            token (TokenOut): An API token (never its secret, except once in the creation response).
     """

    customer: CustomerOut
    scopes: list[TokenScope]
    token: TokenOut
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        from ..models.customer_out import CustomerOut # noqa: PLC0415
        from ..models.token_out import TokenOut # noqa: PLC0415
        customer = self.customer.to_dict()

        scopes = []
        for scopes_item_data in self.scopes:
            scopes_item = scopes_item_data.value
            scopes.append(scopes_item)



        token = self.token.to_dict()


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "customer": customer,
            "scopes": scopes,
            "token": token,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.customer_out import CustomerOut # noqa: PLC0415
        from ..models.token_out import TokenOut # noqa: PLC0415
        d = dict(src_dict)
        customer = CustomerOut.from_dict(d.pop("customer"))




        scopes = []
        _scopes = d.pop("scopes")
        for scopes_item_data in (_scopes):
            scopes_item = TokenScope(scopes_item_data)



            scopes.append(scopes_item)


        token = TokenOut.from_dict(d.pop("token"))




        me = cls(
            customer=customer,
            scopes=scopes,
            token=token,
        )


        me.additional_properties = d
        return me

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
