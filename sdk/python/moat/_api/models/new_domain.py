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






T = TypeVar("T", bound="NewDomain")



@_attrs_define
class NewDomain:
    """ A domain to protect.

        Attributes:
            domain (str): The domain name (IDN allowed; stored as punycode). Example: acme.example.
            delivery_mode (DeliveryMode | Unset): How accepted mail reaches a domain's real server.
            real_mx_host (None | str | Unset): `host:port` of the real mail server Moat relays good mail to: a public
                address
                (internal ones only where the operator allows them). Optional: without it Moat looks
                up the domain's MX records now (they still name the customer's own server before
                the switch to Moat), takes the most preferred one on port 25 and says so in
                `real_mx_host_note`. Example: mail.acme.example:25.
            tls (RelayTls | Unset): How the relay protects the hop to a domain's real mail server (RFC 3207 STARTTLS).
     """

    domain: str
    delivery_mode: DeliveryMode | Unset = UNSET
    real_mx_host: None | str | Unset = UNSET
    tls: RelayTls | Unset = UNSET





    def to_dict(self) -> dict[str, Any]:
        domain = self.domain

        delivery_mode: str | Unset = UNSET
        if not isinstance(self.delivery_mode, Unset):
            delivery_mode = self.delivery_mode.value


        real_mx_host: None | str | Unset
        if isinstance(self.real_mx_host, Unset):
            real_mx_host = UNSET
        else:
            real_mx_host = self.real_mx_host

        tls: str | Unset = UNSET
        if not isinstance(self.tls, Unset):
            tls = self.tls.value



        field_dict: dict[str, Any] = {}

        field_dict.update({
            "domain": domain,
        })
        if delivery_mode is not UNSET:
            field_dict["delivery_mode"] = delivery_mode
        if real_mx_host is not UNSET:
            field_dict["real_mx_host"] = real_mx_host
        if tls is not UNSET:
            field_dict["tls"] = tls

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        domain = d.pop("domain")

        _delivery_mode = d.pop("delivery_mode", UNSET)
        delivery_mode: DeliveryMode | Unset
        if isinstance(_delivery_mode,  Unset):
            delivery_mode = UNSET
        else:
            delivery_mode = DeliveryMode(_delivery_mode)




        def _parse_real_mx_host(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        real_mx_host = _parse_real_mx_host(d.pop("real_mx_host", UNSET))


        _tls = d.pop("tls", UNSET)
        tls: RelayTls | Unset
        if isinstance(_tls,  Unset):
            tls = UNSET
        else:
            tls = RelayTls(_tls)




        new_domain = cls(
            domain=domain,
            delivery_mode=delivery_mode,
            real_mx_host=real_mx_host,
            tls=tls,
        )

        return new_domain

