from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..models.threat_type import ThreatType
from ..types import UNSET, Unset
from typing import cast
import datetime






T = TypeVar("T", bound="DigestItem")



@_attrs_define
class DigestItem:
    """ One quarantined message of the digest.

        Attributes:
            from_ (str):
            id (str):
            received_at (datetime.datetime):
            subject (str):
            threat_type (ThreatType): The class of threat a verdict is about. `policy` means a customer's own rule fired.
            link_expires_at (datetime.datetime | None | Unset):
            release_url (None | str | Unset): Opens a page with a Release button; works without a token until
                `link_expires_at`
                or until the customer's links are revoked. Null for malware, which only an admin
                token can release.
     """

    from_: str
    id: str
    received_at: datetime.datetime
    subject: str
    threat_type: ThreatType
    link_expires_at: datetime.datetime | None | Unset = UNSET
    release_url: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        from_ = self.from_

        id = self.id

        received_at = self.received_at.isoformat()

        subject = self.subject

        threat_type = self.threat_type.value

        link_expires_at: None | str | Unset
        if isinstance(self.link_expires_at, Unset):
            link_expires_at = UNSET
        elif isinstance(self.link_expires_at, datetime.datetime):
            link_expires_at = self.link_expires_at.isoformat()
        else:
            link_expires_at = self.link_expires_at

        release_url: None | str | Unset
        if isinstance(self.release_url, Unset):
            release_url = UNSET
        else:
            release_url = self.release_url


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "from": from_,
            "id": id,
            "received_at": received_at,
            "subject": subject,
            "threat_type": threat_type,
        })
        if link_expires_at is not UNSET:
            field_dict["link_expires_at"] = link_expires_at
        if release_url is not UNSET:
            field_dict["release_url"] = release_url

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        from_ = d.pop("from")

        id = d.pop("id")

        received_at = datetime.datetime.fromisoformat(d.pop("received_at"))




        subject = d.pop("subject")

        threat_type = ThreatType(d.pop("threat_type"))




        def _parse_link_expires_at(data: object) -> datetime.datetime | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                link_expires_at_type_0 = datetime.datetime.fromisoformat(data)



                return link_expires_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None | Unset, data)

        link_expires_at = _parse_link_expires_at(d.pop("link_expires_at", UNSET))


        def _parse_release_url(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        release_url = _parse_release_url(d.pop("release_url", UNSET))


        digest_item = cls(
            from_=from_,
            id=id,
            received_at=received_at,
            subject=subject,
            threat_type=threat_type,
            link_expires_at=link_expires_at,
            release_url=release_url,
        )


        digest_item.additional_properties = d
        return digest_item

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
