from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..models.quarantine_status import QuarantineStatus
from ..models.threat_type import ThreatType
from ..types import UNSET, Unset
from typing import cast
import datetime

if TYPE_CHECKING:
  from ..models.finding import Finding





T = TypeVar("T", bound="QuarantineOut")



@_attrs_define
class QuarantineOut:
    """ A quarantined message's metadata and why it was held.

        Attributes:
            domain_id (str):
            findings (list[Finding]):
            from_ (str): The From header.
            id (str):
            mail_from (str):
            rcpt_to (list[str]):
            received_at (datetime.datetime):
            size (int):
            status (QuarantineStatus): Lifecycle of a quarantined message.
            subject (str):
            threat_type (ThreatType): The class of threat a verdict is about. `policy` means a customer's own rule fired.
            verdict_id (str):
            released_at (datetime.datetime | None | Unset):
     """

    domain_id: str
    findings: list[Finding]
    from_: str
    id: str
    mail_from: str
    rcpt_to: list[str]
    received_at: datetime.datetime
    size: int
    status: QuarantineStatus
    subject: str
    threat_type: ThreatType
    verdict_id: str
    released_at: datetime.datetime | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        from ..models.finding import Finding # noqa: PLC0415
        domain_id = self.domain_id

        findings = []
        for findings_item_data in self.findings:
            findings_item = findings_item_data.to_dict()
            findings.append(findings_item)



        from_ = self.from_

        id = self.id

        mail_from = self.mail_from

        rcpt_to = self.rcpt_to



        received_at = self.received_at.isoformat()

        size = self.size

        status = self.status.value

        subject = self.subject

        threat_type = self.threat_type.value

        verdict_id = self.verdict_id

        released_at: None | str | Unset
        if isinstance(self.released_at, Unset):
            released_at = UNSET
        elif isinstance(self.released_at, datetime.datetime):
            released_at = self.released_at.isoformat()
        else:
            released_at = self.released_at


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "domain_id": domain_id,
            "findings": findings,
            "from": from_,
            "id": id,
            "mail_from": mail_from,
            "rcpt_to": rcpt_to,
            "received_at": received_at,
            "size": size,
            "status": status,
            "subject": subject,
            "threat_type": threat_type,
            "verdict_id": verdict_id,
        })
        if released_at is not UNSET:
            field_dict["released_at"] = released_at

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.finding import Finding # noqa: PLC0415
        d = dict(src_dict)
        domain_id = d.pop("domain_id")

        findings = []
        _findings = d.pop("findings")
        for findings_item_data in (_findings):
            findings_item = Finding.from_dict(findings_item_data)



            findings.append(findings_item)


        from_ = d.pop("from")

        id = d.pop("id")

        mail_from = d.pop("mail_from")

        rcpt_to = cast(list[str], d.pop("rcpt_to"))


        received_at = datetime.datetime.fromisoformat(d.pop("received_at"))




        size = d.pop("size")

        status = QuarantineStatus(d.pop("status"))




        subject = d.pop("subject")

        threat_type = ThreatType(d.pop("threat_type"))




        verdict_id = d.pop("verdict_id")

        def _parse_released_at(data: object) -> datetime.datetime | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                released_at_type_0 = datetime.datetime.fromisoformat(data)



                return released_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None | Unset, data)

        released_at = _parse_released_at(d.pop("released_at", UNSET))


        quarantine_out = cls(
            domain_id=domain_id,
            findings=findings,
            from_=from_,
            id=id,
            mail_from=mail_from,
            rcpt_to=rcpt_to,
            received_at=received_at,
            size=size,
            status=status,
            subject=subject,
            threat_type=threat_type,
            verdict_id=verdict_id,
            released_at=released_at,
        )


        quarantine_out.additional_properties = d
        return quarantine_out

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
