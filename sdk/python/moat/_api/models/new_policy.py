from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..models.policy_action import PolicyAction
from ..types import UNSET, Unset
from typing import cast

if TYPE_CHECKING:
  from ..models.all_ import All
  from ..models.any_ import Any
  from ..models.attachment_ext_in import AttachmentExtIn
  from ..models.attachment_type_in import AttachmentTypeIn
  from ..models.auth import Auth
  from ..models.body_contains import BodyContains
  from ..models.body_matches import BodyMatches
  from ..models.from_contains import FromContains
  from ..models.header_contains import HeaderContains
  from ..models.header_matches import HeaderMatches
  from ..models.not_ import Not
  from ..models.reply_to_domain_in import ReplyToDomainIn
  from ..models.sender_domain_in import SenderDomainIn
  from ..models.subject_contains import SubjectContains
  from ..models.subject_matches import SubjectMatches
  from ..models.threat_score_over import ThreatScoreOver
  from ..models.url_domain_in import UrlDomainIn





T = TypeVar("T", bound="NewPolicy")



@_attrs_define
class NewPolicy:
    """ The fields a client gives to create a policy.

        Attributes:
            action (PolicyAction): What a policy does when its condition holds: one of the verdict actions, or `tag`, which
                delivers the message with an `X-Moat-Tag` header naming the policy (mail clients can
                filter on it) and changes nothing else.
            condition (All | Any | AttachmentExtIn | AttachmentTypeIn | Auth | BodyContains | BodyMatches | FromContains |
                HeaderContains | HeaderMatches | Not | ReplyToDomainIn | SenderDomainIn | SubjectContains | SubjectMatches |
                ThreatScoreOver | UrlDomainIn): A condition on a message. Literal matches are ASCII case-insensitive substring
                matches.
            name (str):
            enabled (bool | Unset):
            notify_admin (bool | Unset):
            shadow (bool | Unset): Record what the policy would do without doing it (try a rule on live mail first).
     """

    action: PolicyAction
    condition: All | Any | AttachmentExtIn | AttachmentTypeIn | Auth | BodyContains | BodyMatches | FromContains | HeaderContains | HeaderMatches | Not | ReplyToDomainIn | SenderDomainIn | SubjectContains | SubjectMatches | ThreatScoreOver | UrlDomainIn
    name: str
    enabled: bool | Unset = UNSET
    notify_admin: bool | Unset = UNSET
    shadow: bool | Unset = UNSET





    def to_dict(self) -> dict[str, Any]:
        from ..models.all_ import All # noqa: PLC0415
        from ..models.any_ import Any # noqa: PLC0415
        from ..models.attachment_ext_in import AttachmentExtIn # noqa: PLC0415
        from ..models.attachment_type_in import AttachmentTypeIn # noqa: PLC0415
        from ..models.auth import Auth # noqa: PLC0415
        from ..models.body_contains import BodyContains # noqa: PLC0415
        from ..models.body_matches import BodyMatches # noqa: PLC0415
        from ..models.from_contains import FromContains # noqa: PLC0415
        from ..models.header_contains import HeaderContains # noqa: PLC0415
        from ..models.header_matches import HeaderMatches # noqa: PLC0415
        from ..models.not_ import Not # noqa: PLC0415
        from ..models.reply_to_domain_in import ReplyToDomainIn # noqa: PLC0415
        from ..models.sender_domain_in import SenderDomainIn # noqa: PLC0415
        from ..models.subject_contains import SubjectContains # noqa: PLC0415
        from ..models.subject_matches import SubjectMatches # noqa: PLC0415
        from ..models.threat_score_over import ThreatScoreOver # noqa: PLC0415
        from ..models.url_domain_in import UrlDomainIn # noqa: PLC0415
        action = self.action.value

        condition: dict[str, Any]
        if isinstance(self.condition, SubjectContains):
            condition = self.condition.to_dict()
        elif isinstance(self.condition, BodyContains):
            condition = self.condition.to_dict()
        elif isinstance(self.condition, FromContains):
            condition = self.condition.to_dict()
        elif isinstance(self.condition, HeaderContains):
            condition = self.condition.to_dict()
        elif isinstance(self.condition, SubjectMatches):
            condition = self.condition.to_dict()
        elif isinstance(self.condition, BodyMatches):
            condition = self.condition.to_dict()
        elif isinstance(self.condition, HeaderMatches):
            condition = self.condition.to_dict()
        elif isinstance(self.condition, SenderDomainIn):
            condition = self.condition.to_dict()
        elif isinstance(self.condition, AttachmentExtIn):
            condition = self.condition.to_dict()
        elif isinstance(self.condition, AttachmentTypeIn):
            condition = self.condition.to_dict()
        elif isinstance(self.condition, UrlDomainIn):
            condition = self.condition.to_dict()
        elif isinstance(self.condition, ReplyToDomainIn):
            condition = self.condition.to_dict()
        elif isinstance(self.condition, ThreatScoreOver):
            condition = self.condition.to_dict()
        elif isinstance(self.condition, Auth):
            condition = self.condition.to_dict()
        elif isinstance(self.condition, All):
            condition = self.condition.to_dict()
        elif isinstance(self.condition, Any):
            condition = self.condition.to_dict()
        else:
            condition = self.condition.to_dict()


        name = self.name

        enabled = self.enabled

        notify_admin = self.notify_admin

        shadow = self.shadow


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "action": action,
            "condition": condition,
            "name": name,
        })
        if enabled is not UNSET:
            field_dict["enabled"] = enabled
        if notify_admin is not UNSET:
            field_dict["notify_admin"] = notify_admin
        if shadow is not UNSET:
            field_dict["shadow"] = shadow

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.all_ import All # noqa: PLC0415
        from ..models.any_ import Any # noqa: PLC0415
        from ..models.attachment_ext_in import AttachmentExtIn # noqa: PLC0415
        from ..models.attachment_type_in import AttachmentTypeIn # noqa: PLC0415
        from ..models.auth import Auth # noqa: PLC0415
        from ..models.body_contains import BodyContains # noqa: PLC0415
        from ..models.body_matches import BodyMatches # noqa: PLC0415
        from ..models.from_contains import FromContains # noqa: PLC0415
        from ..models.header_contains import HeaderContains # noqa: PLC0415
        from ..models.header_matches import HeaderMatches # noqa: PLC0415
        from ..models.not_ import Not # noqa: PLC0415
        from ..models.reply_to_domain_in import ReplyToDomainIn # noqa: PLC0415
        from ..models.sender_domain_in import SenderDomainIn # noqa: PLC0415
        from ..models.subject_contains import SubjectContains # noqa: PLC0415
        from ..models.subject_matches import SubjectMatches # noqa: PLC0415
        from ..models.threat_score_over import ThreatScoreOver # noqa: PLC0415
        from ..models.url_domain_in import UrlDomainIn # noqa: PLC0415
        d = dict(src_dict)
        action = PolicyAction(d.pop("action"))




        def _parse_condition(data: object) -> All | Any | AttachmentExtIn | AttachmentTypeIn | Auth | BodyContains | BodyMatches | FromContains | HeaderContains | HeaderMatches | Not | ReplyToDomainIn | SenderDomainIn | SubjectContains | SubjectMatches | ThreatScoreOver | UrlDomainIn:
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                componentsschemas_condition_subject_contains = SubjectContains.from_dict(data)



                return componentsschemas_condition_subject_contains
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                componentsschemas_condition_body_contains = BodyContains.from_dict(data)



                return componentsschemas_condition_body_contains
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                componentsschemas_condition_from_contains = FromContains.from_dict(data)



                return componentsschemas_condition_from_contains
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                componentsschemas_condition_header_contains = HeaderContains.from_dict(data)



                return componentsschemas_condition_header_contains
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                componentsschemas_condition_subject_matches = SubjectMatches.from_dict(data)



                return componentsschemas_condition_subject_matches
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                componentsschemas_condition_body_matches = BodyMatches.from_dict(data)



                return componentsschemas_condition_body_matches
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                componentsschemas_condition_header_matches = HeaderMatches.from_dict(data)



                return componentsschemas_condition_header_matches
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                componentsschemas_condition_sender_domain_in = SenderDomainIn.from_dict(data)



                return componentsschemas_condition_sender_domain_in
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                componentsschemas_condition_attachment_ext_in = AttachmentExtIn.from_dict(data)



                return componentsschemas_condition_attachment_ext_in
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                componentsschemas_condition_attachment_type_in = AttachmentTypeIn.from_dict(data)



                return componentsschemas_condition_attachment_type_in
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                componentsschemas_condition_url_domain_in = UrlDomainIn.from_dict(data)



                return componentsschemas_condition_url_domain_in
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                componentsschemas_condition_reply_to_domain_in = ReplyToDomainIn.from_dict(data)



                return componentsschemas_condition_reply_to_domain_in
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                componentsschemas_condition_threat_score_over = ThreatScoreOver.from_dict(data)



                return componentsschemas_condition_threat_score_over
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                componentsschemas_condition_auth = Auth.from_dict(data)



                return componentsschemas_condition_auth
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                componentsschemas_condition_all = All.from_dict(data)



                return componentsschemas_condition_all
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                componentsschemas_condition_any = Any.from_dict(data)



                return componentsschemas_condition_any
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            if not isinstance(data, dict):
                raise TypeError()
            componentsschemas_condition_not = Not.from_dict(data)



            return componentsschemas_condition_not

        condition = _parse_condition(d.pop("condition"))


        name = d.pop("name")

        enabled = d.pop("enabled", UNSET)

        notify_admin = d.pop("notify_admin", UNSET)

        shadow = d.pop("shadow", UNSET)

        new_policy = cls(
            action=action,
            condition=condition,
            name=name,
            enabled=enabled,
            notify_admin=notify_admin,
            shadow=shadow,
        )

        return new_policy

