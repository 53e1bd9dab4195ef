from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..models.severity import Severity
from ..models.threat_action import ThreatAction
from ..models.threat_type import ThreatType
from typing import cast
import datetime






T = TypeVar("T", bound="Threat")



@_attrs_define
class Threat:
    """ One entry of the threat feed.

        Attributes:
            action (ThreatAction): What was done with a threat.
            detected_at (datetime.datetime):
            domain_id (str):
            from_ (str): The sender: the From header's address, or the envelope sender when it has none.
            id (str): The verdict's id (`GET /v1/verdicts/{id}` explains it finding by finding).
            recipients (list[str]): Every recipient at the domain.
            rules (list[str]): The rules that found it.
            severity (Severity): How bad a finding is. A class's findings of `high` or `critical` quarantine the message on
                their own; `low` and `medium` ones are recorded (and feed scores) without acting alone.
            subject (str):
            target (str): The first recipient.
            type_ (ThreatType): The class of threat a verdict is about. `policy` means a customer's own rule fired.
     """

    action: ThreatAction
    detected_at: datetime.datetime
    domain_id: str
    from_: str
    id: str
    recipients: list[str]
    rules: list[str]
    severity: Severity
    subject: str
    target: str
    type_: ThreatType
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        action = self.action.value

        detected_at = self.detected_at.isoformat()

        domain_id = self.domain_id

        from_ = self.from_

        id = self.id

        recipients = self.recipients



        rules = self.rules



        severity = self.severity.value

        subject = self.subject

        target = self.target

        type_ = self.type_.value


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "action": action,
            "detected_at": detected_at,
            "domain_id": domain_id,
            "from": from_,
            "id": id,
            "recipients": recipients,
            "rules": rules,
            "severity": severity,
            "subject": subject,
            "target": target,
            "type": type_,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        action = ThreatAction(d.pop("action"))




        detected_at = datetime.datetime.fromisoformat(d.pop("detected_at"))




        domain_id = d.pop("domain_id")

        from_ = d.pop("from")

        id = d.pop("id")

        recipients = cast(list[str], d.pop("recipients"))


        rules = cast(list[str], d.pop("rules"))


        severity = Severity(d.pop("severity"))




        subject = d.pop("subject")

        target = d.pop("target")

        type_ = ThreatType(d.pop("type"))




        threat = cls(
            action=action,
            detected_at=detected_at,
            domain_id=domain_id,
            from_=from_,
            id=id,
            recipients=recipients,
            rules=rules,
            severity=severity,
            subject=subject,
            target=target,
            type_=type_,
        )


        threat.additional_properties = d
        return threat

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
