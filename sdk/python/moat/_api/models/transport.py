from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..types import UNSET, Unset
from typing import cast






T = TypeVar("T", bound="Transport")



@_attrs_define
class Transport:
    """ Encryption of a message's hops.

        Attributes:
            inbound_tls (None | str | Unset): TLS version of the hop that brought the message to Moat (`TLSv1.3`); null:
                clear text.
            outbound_tls (None | str | Unset): TLS version of the hop to the real server when Moat relayed the message while
                the
                sender waited (proxy mode); null otherwise: clear text, or a spooled delivery that
                happens later (the spool logs its TLS version per delivery).
     """

    inbound_tls: None | str | Unset = UNSET
    outbound_tls: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        inbound_tls: None | str | Unset
        if isinstance(self.inbound_tls, Unset):
            inbound_tls = UNSET
        else:
            inbound_tls = self.inbound_tls

        outbound_tls: None | str | Unset
        if isinstance(self.outbound_tls, Unset):
            outbound_tls = UNSET
        else:
            outbound_tls = self.outbound_tls


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
        })
        if inbound_tls is not UNSET:
            field_dict["inbound_tls"] = inbound_tls
        if outbound_tls is not UNSET:
            field_dict["outbound_tls"] = outbound_tls

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        def _parse_inbound_tls(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        inbound_tls = _parse_inbound_tls(d.pop("inbound_tls", UNSET))


        def _parse_outbound_tls(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        outbound_tls = _parse_outbound_tls(d.pop("outbound_tls", UNSET))


        transport = cls(
            inbound_tls=inbound_tls,
            outbound_tls=outbound_tls,
        )


        transport.additional_properties = d
        return transport

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
