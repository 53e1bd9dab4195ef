from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..models.delivery_mode import DeliveryMode
from ..models.relay_tls import RelayTls
from ..types import UNSET, Unset
from typing import cast

if TYPE_CHECKING:
  from ..models.executive import Executive





T = TypeVar("T", bound="DomainPatch")



@_attrs_define
class DomainPatch:
    """ Changes `PATCH /v1/domains/{id}` may make.

        Attributes:
            admin_email (None | str | Unset): Where the daily digest is mailed; an address at the domain itself; `""` stops
                it.
            delivery_mode (DeliveryMode | None | Unset):
            executives (list[Executive] | None | Unset):
            real_mx_host (None | str | Unset):
            spam_threshold (float | None | Unset):
            tls (None | RelayTls | Unset):
     """

    admin_email: None | str | Unset = UNSET
    delivery_mode: DeliveryMode | None | Unset = UNSET
    executives: list[Executive] | None | Unset = UNSET
    real_mx_host: None | str | Unset = UNSET
    spam_threshold: float | None | Unset = UNSET
    tls: None | RelayTls | Unset = UNSET





    def to_dict(self) -> dict[str, Any]:
        from ..models.executive import Executive # noqa: PLC0415
        admin_email: None | str | Unset
        if isinstance(self.admin_email, Unset):
            admin_email = UNSET
        else:
            admin_email = self.admin_email

        delivery_mode: None | str | Unset
        if isinstance(self.delivery_mode, Unset):
            delivery_mode = UNSET
        elif isinstance(self.delivery_mode, DeliveryMode):
            delivery_mode = self.delivery_mode.value
        else:
            delivery_mode = self.delivery_mode

        executives: list[dict[str, Any]] | None | Unset
        if isinstance(self.executives, Unset):
            executives = UNSET
        elif isinstance(self.executives, list):
            executives = []
            for executives_type_0_item_data in self.executives:
                executives_type_0_item = executives_type_0_item_data.to_dict()
                executives.append(executives_type_0_item)


        else:
            executives = self.executives

        real_mx_host: None | str | Unset
        if isinstance(self.real_mx_host, Unset):
            real_mx_host = UNSET
        else:
            real_mx_host = self.real_mx_host

        spam_threshold: float | None | Unset
        if isinstance(self.spam_threshold, Unset):
            spam_threshold = UNSET
        else:
            spam_threshold = self.spam_threshold

        tls: None | str | Unset
        if isinstance(self.tls, Unset):
            tls = UNSET
        elif isinstance(self.tls, RelayTls):
            tls = self.tls.value
        else:
            tls = self.tls


        field_dict: dict[str, Any] = {}

        field_dict.update({
        })
        if admin_email is not UNSET:
            field_dict["admin_email"] = admin_email
        if delivery_mode is not UNSET:
            field_dict["delivery_mode"] = delivery_mode
        if executives is not UNSET:
            field_dict["executives"] = executives
        if real_mx_host is not UNSET:
            field_dict["real_mx_host"] = real_mx_host
        if spam_threshold is not UNSET:
            field_dict["spam_threshold"] = spam_threshold
        if tls is not UNSET:
            field_dict["tls"] = tls

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.executive import Executive # noqa: PLC0415
        d = dict(src_dict)
        def _parse_admin_email(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        admin_email = _parse_admin_email(d.pop("admin_email", UNSET))


        def _parse_delivery_mode(data: object) -> DeliveryMode | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                delivery_mode_type_1 = DeliveryMode(data)



                return delivery_mode_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(DeliveryMode | None | Unset, data)

        delivery_mode = _parse_delivery_mode(d.pop("delivery_mode", UNSET))


        def _parse_executives(data: object) -> list[Executive] | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                executives_type_0 = []
                _executives_type_0 = data
                for executives_type_0_item_data in (_executives_type_0):
                    executives_type_0_item = Executive.from_dict(executives_type_0_item_data)



                    executives_type_0.append(executives_type_0_item)

                return executives_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[Executive] | None | Unset, data)

        executives = _parse_executives(d.pop("executives", UNSET))


        def _parse_real_mx_host(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        real_mx_host = _parse_real_mx_host(d.pop("real_mx_host", UNSET))


        def _parse_spam_threshold(data: object) -> float | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(float | None | Unset, data)

        spam_threshold = _parse_spam_threshold(d.pop("spam_threshold", UNSET))


        def _parse_tls(data: object) -> None | RelayTls | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                tls_type_1 = RelayTls(data)



                return tls_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | RelayTls | Unset, data)

        tls = _parse_tls(d.pop("tls", UNSET))


        domain_patch = cls(
            admin_email=admin_email,
            delivery_mode=delivery_mode,
            executives=executives,
            real_mx_host=real_mx_host,
            spam_threshold=spam_threshold,
            tls=tls,
        )

        return domain_patch

