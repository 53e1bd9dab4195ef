from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..models.severity import Severity
from ..models.threat_type import ThreatType
from ..types import UNSET, Unset
from typing import cast






T = TypeVar("T", bound="Finding")



@_attrs_define
class Finding:
    """ Why a verdict was reached: one matched rule, with where it matched.

        Attributes:
            field (str): What was inspected: `subject`, `body`, `from`, `header:<name>`, `envelope_from`.
            matched (str): The literal or value that matched.
            rule (str): The rule that matched (a policy's name for customer policies).
            threat_type (ThreatType): The class of threat a verdict is about. `policy` means a customer's own rule fired.
            part (int | None | Unset): Index of the MIME part for body matches.
            range_ (list[int] | None | Unset): Byte range of the match within the inspected field's text.
            score (float | None | Unset): What the rule added to its class's score (spam rules), when it is a scored rule.
            severity (Severity | Unset): How bad a finding is. A class's findings of `high` or `critical` quarantine the
                message on
                their own; `low` and `medium` ones are recorded (and feed scores) without acting alone.
     """

    field: str
    matched: str
    rule: str
    threat_type: ThreatType
    part: int | None | Unset = UNSET
    range_: list[int] | None | Unset = UNSET
    score: float | None | Unset = UNSET
    severity: Severity | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        field = self.field

        matched = self.matched

        rule = self.rule

        threat_type = self.threat_type.value

        part: int | None | Unset
        if isinstance(self.part, Unset):
            part = UNSET
        else:
            part = self.part

        range_: list[int] | None | Unset
        if isinstance(self.range_, Unset):
            range_ = UNSET
        elif isinstance(self.range_, list):
            range_ = self.range_


        else:
            range_ = self.range_

        score: float | None | Unset
        if isinstance(self.score, Unset):
            score = UNSET
        else:
            score = self.score

        severity: str | Unset = UNSET
        if not isinstance(self.severity, Unset):
            severity = self.severity.value



        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "field": field,
            "matched": matched,
            "rule": rule,
            "threat_type": threat_type,
        })
        if part is not UNSET:
            field_dict["part"] = part
        if range_ is not UNSET:
            field_dict["range"] = range_
        if score is not UNSET:
            field_dict["score"] = score
        if severity is not UNSET:
            field_dict["severity"] = severity

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        field = d.pop("field")

        matched = d.pop("matched")

        rule = d.pop("rule")

        threat_type = ThreatType(d.pop("threat_type"))




        def _parse_part(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        part = _parse_part(d.pop("part", UNSET))


        def _parse_range_(data: object) -> list[int] | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                range_type_0 = cast(list[int], data)

                return range_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[int] | None | Unset, data)

        range_ = _parse_range_(d.pop("range", UNSET))


        def _parse_score(data: object) -> float | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(float | None | Unset, data)

        score = _parse_score(d.pop("score", UNSET))


        _severity = d.pop("severity", UNSET)
        severity: Severity | Unset
        if isinstance(_severity,  Unset):
            severity = UNSET
        else:
            severity = Severity(_severity)




        finding = cls(
            field=field,
            matched=matched,
            rule=rule,
            threat_type=threat_type,
            part=part,
            range_=range_,
            score=score,
            severity=severity,
        )


        finding.additional_properties = d
        return finding

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
