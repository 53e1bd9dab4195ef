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






T = TypeVar("T", bound="BulkFilter")



@_attrs_define
class BulkFilter:
    """ Which quarantined messages a job acts on (only ones still `quarantined`).

        Attributes:
            domain (None | str | Unset): A domain id.
            from_ (None | str | Unset): Part of the envelope sender or From header.
            since (datetime.datetime | None | Unset):
            threat_type (None | ThreatType | Unset):
            until (datetime.datetime | None | Unset):
     """

    domain: None | str | Unset = UNSET
    from_: None | str | Unset = UNSET
    since: datetime.datetime | None | Unset = UNSET
    threat_type: None | ThreatType | Unset = UNSET
    until: datetime.datetime | None | Unset = UNSET





    def to_dict(self) -> dict[str, Any]:
        domain: None | str | Unset
        if isinstance(self.domain, Unset):
            domain = UNSET
        else:
            domain = self.domain

        from_: None | str | Unset
        if isinstance(self.from_, Unset):
            from_ = UNSET
        else:
            from_ = self.from_

        since: None | str | Unset
        if isinstance(self.since, Unset):
            since = UNSET
        elif isinstance(self.since, datetime.datetime):
            since = self.since.isoformat()
        else:
            since = self.since

        threat_type: None | str | Unset
        if isinstance(self.threat_type, Unset):
            threat_type = UNSET
        elif isinstance(self.threat_type, ThreatType):
            threat_type = self.threat_type.value
        else:
            threat_type = self.threat_type

        until: None | str | Unset
        if isinstance(self.until, Unset):
            until = UNSET
        elif isinstance(self.until, datetime.datetime):
            until = self.until.isoformat()
        else:
            until = self.until


        field_dict: dict[str, Any] = {}

        field_dict.update({
        })
        if domain is not UNSET:
            field_dict["domain"] = domain
        if from_ is not UNSET:
            field_dict["from"] = from_
        if since is not UNSET:
            field_dict["since"] = since
        if threat_type is not UNSET:
            field_dict["threat_type"] = threat_type
        if until is not UNSET:
            field_dict["until"] = until

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        def _parse_domain(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        domain = _parse_domain(d.pop("domain", UNSET))


        def _parse_from_(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        from_ = _parse_from_(d.pop("from", UNSET))


        def _parse_since(data: object) -> datetime.datetime | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                since_type_0 = datetime.datetime.fromisoformat(data)



                return since_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None | Unset, data)

        since = _parse_since(d.pop("since", UNSET))


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


        def _parse_until(data: object) -> datetime.datetime | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                until_type_0 = datetime.datetime.fromisoformat(data)



                return until_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None | Unset, data)

        until = _parse_until(d.pop("until", UNSET))


        bulk_filter = cls(
            domain=domain,
            from_=from_,
            since=since,
            threat_type=threat_type,
            until=until,
        )

        return bulk_filter

