from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..models.delivery_mode import DeliveryMode
from ..models.domain_status import DomainStatus
from ..models.relay_tls import RelayTls
from ..types import UNSET, Unset
from typing import cast
import datetime

if TYPE_CHECKING:
  from ..models.executive import Executive
  from ..models.mx_record import MxRecord
  from ..models.txt_record import TxtRecord





T = TypeVar("T", bound="DomainOut")



@_attrs_define
class DomainOut:
    """ A protected domain.

        Attributes:
            created_at (datetime.datetime):
            delivery_mode (DeliveryMode): How accepted mail reaches a domain's real server.
            domain (str):
            executives (list[Executive]):
            id (str):
            internal_target_allowed (bool): Whether the operator allowed `real_mx_host` to be an internal address.
            mx_records (list[MxRecord]): Publish these (after the verification record) so mail for the domain reaches Moat.
            real_mx_host (str): `host:port` of the customer's real mail server.
            status (DomainStatus): Lifecycle of a protected domain.
            tls (RelayTls): How the relay protects the hop to a domain's real mail server (RFC 3207 STARTTLS).
            verification_record (TxtRecord): The DNS record that proves the customer controls the domain.
            admin_email (None | str | Unset): Where the daily quarantine digest is mailed.
            real_mx_host_note (None | str | Unset): Only in the answer to a creation without `real_mx_host`: where Moat took
                the real
                server from (the domain's MX records at that moment) and how to change it.
            spam_threshold (float | None | Unset): Spam score at or above which mail is quarantined; null: the gateway's
                default.
            verified_at (datetime.datetime | None | Unset): When ownership was proven.
     """

    created_at: datetime.datetime
    delivery_mode: DeliveryMode
    domain: str
    executives: list[Executive]
    id: str
    internal_target_allowed: bool
    mx_records: list[MxRecord]
    real_mx_host: str
    status: DomainStatus
    tls: RelayTls
    verification_record: TxtRecord
    admin_email: None | str | Unset = UNSET
    real_mx_host_note: None | str | Unset = UNSET
    spam_threshold: float | None | Unset = UNSET
    verified_at: datetime.datetime | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        from ..models.executive import Executive # noqa: PLC0415
        from ..models.mx_record import MxRecord # noqa: PLC0415
        from ..models.txt_record import TxtRecord # noqa: PLC0415
        created_at = self.created_at.isoformat()

        delivery_mode = self.delivery_mode.value

        domain = self.domain

        executives = []
        for executives_item_data in self.executives:
            executives_item = executives_item_data.to_dict()
            executives.append(executives_item)



        id = self.id

        internal_target_allowed = self.internal_target_allowed

        mx_records = []
        for mx_records_item_data in self.mx_records:
            mx_records_item = mx_records_item_data.to_dict()
            mx_records.append(mx_records_item)



        real_mx_host = self.real_mx_host

        status = self.status.value

        tls = self.tls.value

        verification_record = self.verification_record.to_dict()

        admin_email: None | str | Unset
        if isinstance(self.admin_email, Unset):
            admin_email = UNSET
        else:
            admin_email = self.admin_email

        real_mx_host_note: None | str | Unset
        if isinstance(self.real_mx_host_note, Unset):
            real_mx_host_note = UNSET
        else:
            real_mx_host_note = self.real_mx_host_note

        spam_threshold: float | None | Unset
        if isinstance(self.spam_threshold, Unset):
            spam_threshold = UNSET
        else:
            spam_threshold = self.spam_threshold

        verified_at: None | str | Unset
        if isinstance(self.verified_at, Unset):
            verified_at = UNSET
        elif isinstance(self.verified_at, datetime.datetime):
            verified_at = self.verified_at.isoformat()
        else:
            verified_at = self.verified_at


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "created_at": created_at,
            "delivery_mode": delivery_mode,
            "domain": domain,
            "executives": executives,
            "id": id,
            "internal_target_allowed": internal_target_allowed,
            "mx_records": mx_records,
            "real_mx_host": real_mx_host,
            "status": status,
            "tls": tls,
            "verification_record": verification_record,
        })
        if admin_email is not UNSET:
            field_dict["admin_email"] = admin_email
        if real_mx_host_note is not UNSET:
            field_dict["real_mx_host_note"] = real_mx_host_note
        if spam_threshold is not UNSET:
            field_dict["spam_threshold"] = spam_threshold
        if verified_at is not UNSET:
            field_dict["verified_at"] = verified_at

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.executive import Executive # noqa: PLC0415
        from ..models.mx_record import MxRecord # noqa: PLC0415
        from ..models.txt_record import TxtRecord # noqa: PLC0415
        d = dict(src_dict)
        created_at = datetime.datetime.fromisoformat(d.pop("created_at"))




        delivery_mode = DeliveryMode(d.pop("delivery_mode"))




        domain = d.pop("domain")

        executives = []
        _executives = d.pop("executives")
        for executives_item_data in (_executives):
            executives_item = Executive.from_dict(executives_item_data)



            executives.append(executives_item)


        id = d.pop("id")

        internal_target_allowed = d.pop("internal_target_allowed")

        mx_records = []
        _mx_records = d.pop("mx_records")
        for mx_records_item_data in (_mx_records):
            mx_records_item = MxRecord.from_dict(mx_records_item_data)



            mx_records.append(mx_records_item)


        real_mx_host = d.pop("real_mx_host")

        status = DomainStatus(d.pop("status"))




        tls = RelayTls(d.pop("tls"))




        verification_record = TxtRecord.from_dict(d.pop("verification_record"))




        def _parse_admin_email(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        admin_email = _parse_admin_email(d.pop("admin_email", UNSET))


        def _parse_real_mx_host_note(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        real_mx_host_note = _parse_real_mx_host_note(d.pop("real_mx_host_note", UNSET))


        def _parse_spam_threshold(data: object) -> float | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(float | None | Unset, data)

        spam_threshold = _parse_spam_threshold(d.pop("spam_threshold", UNSET))


        def _parse_verified_at(data: object) -> datetime.datetime | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                verified_at_type_0 = datetime.datetime.fromisoformat(data)



                return verified_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None | Unset, data)

        verified_at = _parse_verified_at(d.pop("verified_at", UNSET))


        domain_out = cls(
            created_at=created_at,
            delivery_mode=delivery_mode,
            domain=domain,
            executives=executives,
            id=id,
            internal_target_allowed=internal_target_allowed,
            mx_records=mx_records,
            real_mx_host=real_mx_host,
            status=status,
            tls=tls,
            verification_record=verification_record,
            admin_email=admin_email,
            real_mx_host_note=real_mx_host_note,
            spam_threshold=spam_threshold,
            verified_at=verified_at,
        )


        domain_out.additional_properties = d
        return domain_out

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
