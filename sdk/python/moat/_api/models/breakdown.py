from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..types import UNSET, Unset
from typing import cast

if TYPE_CHECKING:
  from ..models.verdict_counts import VerdictCounts





T = TypeVar("T", bound="Breakdown")



@_attrs_define
class Breakdown:
    """ Verdict counts of one domain or one day.

        Attributes:
            key (str): The domain id (per-domain rows) or the UTC day `YYYY-MM-DD` (per-day rows).
            quarantine_rate (float):
            scanned (int):
            verdicts (VerdictCounts): Verdict counts in a window.
            domain (None | str | Unset): The domain name, in per-domain rows.
     """

    key: str
    quarantine_rate: float
    scanned: int
    verdicts: VerdictCounts
    domain: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        from ..models.verdict_counts import VerdictCounts # noqa: PLC0415
        key = self.key

        quarantine_rate = self.quarantine_rate

        scanned = self.scanned

        verdicts = self.verdicts.to_dict()

        domain: None | str | Unset
        if isinstance(self.domain, Unset):
            domain = UNSET
        else:
            domain = self.domain


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "key": key,
            "quarantine_rate": quarantine_rate,
            "scanned": scanned,
            "verdicts": verdicts,
        })
        if domain is not UNSET:
            field_dict["domain"] = domain

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.verdict_counts import VerdictCounts # noqa: PLC0415
        d = dict(src_dict)
        key = d.pop("key")

        quarantine_rate = d.pop("quarantine_rate")

        scanned = d.pop("scanned")

        verdicts = VerdictCounts.from_dict(d.pop("verdicts"))




        def _parse_domain(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        domain = _parse_domain(d.pop("domain", UNSET))


        breakdown = cls(
            key=key,
            quarantine_rate=quarantine_rate,
            scanned=scanned,
            verdicts=verdicts,
            domain=domain,
        )


        breakdown.additional_properties = d
        return breakdown

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
