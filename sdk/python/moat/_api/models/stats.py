from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from typing import cast

if TYPE_CHECKING:
  from ..models.breakdown import Breakdown
  from ..models.spool_stats import SpoolStats
  from ..models.verdict_counts import VerdictCounts





T = TypeVar("T", bound="Stats")



@_attrs_define
class Stats:
    """ `GET /v1/stats`.

        Attributes:
            breakdown_complete (bool): False when the window held more verdicts than the breakdowns read (200 000); the
                totals above are always complete.
            messages_scanned (int):
            per_day (list[Breakdown]): The window per UTC day, oldest first.
            per_domain (list[Breakdown]): The window per protected domain.
            quarantine_rate (float): Quarantined / scanned, 0 when nothing was scanned.
            spool (SpoolStats): Mail accepted and waiting in the spool for the customer's servers.
            verdicts (VerdictCounts): Verdict counts in a window.
            window_hours (int):
     """

    breakdown_complete: bool
    messages_scanned: int
    per_day: list[Breakdown]
    per_domain: list[Breakdown]
    quarantine_rate: float
    spool: SpoolStats
    verdicts: VerdictCounts
    window_hours: int
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        from ..models.breakdown import Breakdown # noqa: PLC0415
        from ..models.spool_stats import SpoolStats # noqa: PLC0415
        from ..models.verdict_counts import VerdictCounts # noqa: PLC0415
        breakdown_complete = self.breakdown_complete

        messages_scanned = self.messages_scanned

        per_day = []
        for per_day_item_data in self.per_day:
            per_day_item = per_day_item_data.to_dict()
            per_day.append(per_day_item)



        per_domain = []
        for per_domain_item_data in self.per_domain:
            per_domain_item = per_domain_item_data.to_dict()
            per_domain.append(per_domain_item)



        quarantine_rate = self.quarantine_rate

        spool = self.spool.to_dict()

        verdicts = self.verdicts.to_dict()

        window_hours = self.window_hours


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "breakdown_complete": breakdown_complete,
            "messages_scanned": messages_scanned,
            "per_day": per_day,
            "per_domain": per_domain,
            "quarantine_rate": quarantine_rate,
            "spool": spool,
            "verdicts": verdicts,
            "window_hours": window_hours,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.breakdown import Breakdown # noqa: PLC0415
        from ..models.spool_stats import SpoolStats # noqa: PLC0415
        from ..models.verdict_counts import VerdictCounts # noqa: PLC0415
        d = dict(src_dict)
        breakdown_complete = d.pop("breakdown_complete")

        messages_scanned = d.pop("messages_scanned")

        per_day = []
        _per_day = d.pop("per_day")
        for per_day_item_data in (_per_day):
            per_day_item = Breakdown.from_dict(per_day_item_data)



            per_day.append(per_day_item)


        per_domain = []
        _per_domain = d.pop("per_domain")
        for per_domain_item_data in (_per_domain):
            per_domain_item = Breakdown.from_dict(per_domain_item_data)



            per_domain.append(per_domain_item)


        quarantine_rate = d.pop("quarantine_rate")

        spool = SpoolStats.from_dict(d.pop("spool"))




        verdicts = VerdictCounts.from_dict(d.pop("verdicts"))




        window_hours = d.pop("window_hours")

        stats = cls(
            breakdown_complete=breakdown_complete,
            messages_scanned=messages_scanned,
            per_day=per_day,
            per_domain=per_domain,
            quarantine_rate=quarantine_rate,
            spool=spool,
            verdicts=verdicts,
            window_hours=window_hours,
        )


        stats.additional_properties = d
        return stats

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
