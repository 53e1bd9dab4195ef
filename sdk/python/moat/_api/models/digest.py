from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from typing import cast

if TYPE_CHECKING:
  from ..models.digest_item import DigestItem
  from ..models.verdict_counts import VerdictCounts





T = TypeVar("T", bound="Digest")



@_attrs_define
class Digest:
    """ A domain's day.

        Attributes:
            day (str):
            domain (str):
            domain_id (str):
            quarantined (list[DigestItem]): Still-quarantined messages received that day (at most 500).
            verdicts (VerdictCounts): Verdict counts in a window.
     """

    day: str
    domain: str
    domain_id: str
    quarantined: list[DigestItem]
    verdicts: VerdictCounts
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        from ..models.digest_item import DigestItem # noqa: PLC0415
        from ..models.verdict_counts import VerdictCounts # noqa: PLC0415
        day = self.day

        domain = self.domain

        domain_id = self.domain_id

        quarantined = []
        for quarantined_item_data in self.quarantined:
            quarantined_item = quarantined_item_data.to_dict()
            quarantined.append(quarantined_item)



        verdicts = self.verdicts.to_dict()


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "day": day,
            "domain": domain,
            "domain_id": domain_id,
            "quarantined": quarantined,
            "verdicts": verdicts,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.digest_item import DigestItem # noqa: PLC0415
        from ..models.verdict_counts import VerdictCounts # noqa: PLC0415
        d = dict(src_dict)
        day = d.pop("day")

        domain = d.pop("domain")

        domain_id = d.pop("domain_id")

        quarantined = []
        _quarantined = d.pop("quarantined")
        for quarantined_item_data in (_quarantined):
            quarantined_item = DigestItem.from_dict(quarantined_item_data)



            quarantined.append(quarantined_item)


        verdicts = VerdictCounts.from_dict(d.pop("verdicts"))




        digest = cls(
            day=day,
            domain=domain,
            domain_id=domain_id,
            quarantined=quarantined,
            verdicts=verdicts,
        )


        digest.additional_properties = d
        return digest

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
