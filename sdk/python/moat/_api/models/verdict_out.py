from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..models.action import Action
from ..models.threat_type import ThreatType
from ..types import UNSET, Unset
from typing import cast
import datetime

if TYPE_CHECKING:
  from ..models.auth_summary import AuthSummary
  from ..models.finding import Finding
  from ..models.transport import Transport





T = TypeVar("T", bound="VerdictOut")



@_attrs_define
class VerdictOut:
    """ A decision Moat took for one recipient domain of one message.

        Attributes:
            client_ip (str):
            domain_id (str):
            findings (list[Finding]):
            from_ (str):
            id (str):
            mail_from (str):
            queue_id (str): The id given to the sender in the SMTP reply.
            rcpt_to (list[str]):
            received_at (datetime.datetime):
            size (int):
            subject (str):
            verdict (Action): What Moat does with a message for one recipient domain.
            auth (AuthSummary | None | Unset):
            threat_type (None | ThreatType | Unset):
            transport (None | Transport | Unset):
     """

    client_ip: str
    domain_id: str
    findings: list[Finding]
    from_: str
    id: str
    mail_from: str
    queue_id: str
    rcpt_to: list[str]
    received_at: datetime.datetime
    size: int
    subject: str
    verdict: Action
    auth: AuthSummary | None | Unset = UNSET
    threat_type: None | ThreatType | Unset = UNSET
    transport: None | Transport | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        from ..models.auth_summary import AuthSummary # noqa: PLC0415
        from ..models.finding import Finding # noqa: PLC0415
        from ..models.transport import Transport # noqa: PLC0415
        client_ip = self.client_ip

        domain_id = self.domain_id

        findings = []
        for findings_item_data in self.findings:
            findings_item = findings_item_data.to_dict()
            findings.append(findings_item)



        from_ = self.from_

        id = self.id

        mail_from = self.mail_from

        queue_id = self.queue_id

        rcpt_to = self.rcpt_to



        received_at = self.received_at.isoformat()

        size = self.size

        subject = self.subject

        verdict = self.verdict.value

        auth: dict[str, Any] | None | Unset
        if isinstance(self.auth, Unset):
            auth = UNSET
        elif isinstance(self.auth, AuthSummary):
            auth = self.auth.to_dict()
        else:
            auth = self.auth

        threat_type: None | str | Unset
        if isinstance(self.threat_type, Unset):
            threat_type = UNSET
        elif isinstance(self.threat_type, ThreatType):
            threat_type = self.threat_type.value
        else:
            threat_type = self.threat_type

        transport: dict[str, Any] | None | Unset
        if isinstance(self.transport, Unset):
            transport = UNSET
        elif isinstance(self.transport, Transport):
            transport = self.transport.to_dict()
        else:
            transport = self.transport


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "client_ip": client_ip,
            "domain_id": domain_id,
            "findings": findings,
            "from": from_,
            "id": id,
            "mail_from": mail_from,
            "queue_id": queue_id,
            "rcpt_to": rcpt_to,
            "received_at": received_at,
            "size": size,
            "subject": subject,
            "verdict": verdict,
        })
        if auth is not UNSET:
            field_dict["auth"] = auth
        if threat_type is not UNSET:
            field_dict["threat_type"] = threat_type
        if transport is not UNSET:
            field_dict["transport"] = transport

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.auth_summary import AuthSummary # noqa: PLC0415
        from ..models.finding import Finding # noqa: PLC0415
        from ..models.transport import Transport # noqa: PLC0415
        d = dict(src_dict)
        client_ip = d.pop("client_ip")

        domain_id = d.pop("domain_id")

        findings = []
        _findings = d.pop("findings")
        for findings_item_data in (_findings):
            findings_item = Finding.from_dict(findings_item_data)



            findings.append(findings_item)


        from_ = d.pop("from")

        id = d.pop("id")

        mail_from = d.pop("mail_from")

        queue_id = d.pop("queue_id")

        rcpt_to = cast(list[str], d.pop("rcpt_to"))


        received_at = datetime.datetime.fromisoformat(d.pop("received_at"))




        size = d.pop("size")

        subject = d.pop("subject")

        verdict = Action(d.pop("verdict"))




        def _parse_auth(data: object) -> AuthSummary | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                auth_type_1 = AuthSummary.from_dict(data)



                return auth_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(AuthSummary | None | Unset, data)

        auth = _parse_auth(d.pop("auth", UNSET))


        def _parse_threat_type(data: object) -> None | ThreatType | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                threat_type_type_1 = ThreatType(data)



                return threat_type_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | ThreatType | Unset, data)

        threat_type = _parse_threat_type(d.pop("threat_type", UNSET))


        def _parse_transport(data: object) -> None | Transport | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                transport_type_1 = Transport.from_dict(data)



                return transport_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | Transport | Unset, data)

        transport = _parse_transport(d.pop("transport", UNSET))


        verdict_out = cls(
            client_ip=client_ip,
            domain_id=domain_id,
            findings=findings,
            from_=from_,
            id=id,
            mail_from=mail_from,
            queue_id=queue_id,
            rcpt_to=rcpt_to,
            received_at=received_at,
            size=size,
            subject=subject,
            verdict=verdict,
            auth=auth,
            threat_type=threat_type,
            transport=transport,
        )


        verdict_out.additional_properties = d
        return verdict_out

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
