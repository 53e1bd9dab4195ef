from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..types import UNSET, Unset
from typing import cast

if TYPE_CHECKING:
  from ..models.threat import Threat





T = TypeVar("T", bound="ThreatFeed")



@_attrs_define
class ThreatFeed:
    """ A page of the threat feed, newest first.

        Attributes:
            threats (list[Threat]):
            next_cursor (None | str | Unset):
     """

    threats: list[Threat]
    next_cursor: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        from ..models.threat import Threat # noqa: PLC0415
        threats = []
        for threats_item_data in self.threats:
            threats_item = threats_item_data.to_dict()
            threats.append(threats_item)



        next_cursor: None | str | Unset
        if isinstance(self.next_cursor, Unset):
            next_cursor = UNSET
        else:
            next_cursor = self.next_cursor


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "threats": threats,
        })
        if next_cursor is not UNSET:
            field_dict["next_cursor"] = next_cursor

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.threat import Threat # noqa: PLC0415
        d = dict(src_dict)
        threats = []
        _threats = d.pop("threats")
        for threats_item_data in (_threats):
            threats_item = Threat.from_dict(threats_item_data)



            threats.append(threats_item)


        def _parse_next_cursor(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        next_cursor = _parse_next_cursor(d.pop("next_cursor", UNSET))


        threat_feed = cls(
            threats=threats,
            next_cursor=next_cursor,
        )


        threat_feed.additional_properties = d
        return threat_feed

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
