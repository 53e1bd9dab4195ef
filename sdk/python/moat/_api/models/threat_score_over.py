from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset







T = TypeVar("T", bound="ThreatScoreOver")



@_attrs_define
class ThreatScoreOver:
    """ The message's threat score (the spam class's total: rules plus the trained model) is at
    least this.

        Attributes:
            threat_score_over (float): The message's threat score (the spam class's total: rules plus the trained model) is
                at
                least this.
     """

    threat_score_over: float





    def to_dict(self) -> dict[str, Any]:
        threat_score_over = self.threat_score_over


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "threat_score_over": threat_score_over,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        threat_score_over = d.pop("threat_score_over")

        threat_score_over = cls(
            threat_score_over=threat_score_over,
        )

        return threat_score_over

