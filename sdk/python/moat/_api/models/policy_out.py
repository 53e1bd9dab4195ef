from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..models.policy_action import PolicyAction
from typing import cast
import datetime

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





T = TypeVar("T", bound="PolicyOut")



@_attrs_define
class PolicyOut:
    """ A customer's policy.

        Attributes:
            action (PolicyAction): What a policy does when its condition holds: one of the verdict actions, or `tag`, which
                delivers the message with an `X-Moat-Tag` header naming the policy (mail clients can
                filter on it) and changes nothing else.
            condition (All | Any | AttachmentExtIn | AttachmentTypeIn | Auth | BodyContains | BodyMatches | FromContains |
                HeaderContains | HeaderMatches | Not | ReplyToDomainIn | SenderDomainIn | SubjectContains | SubjectMatches |
                ThreatScoreOver | UrlDomainIn): A condition on a message. Literal matches are ASCII case-insensitive substring
                matches.
            created_at (datetime.datetime):
            enabled (bool):
            id (str):
            name (str):
            notify_admin (bool):
            shadow (bool): Shadow mode: recorded on verdicts as `shadow:<name>` findings, never acted on.
     """

    action: PolicyAction
    condition: All | Any | AttachmentExtIn | AttachmentTypeIn | Auth | BodyContains | BodyMatches | FromContains | HeaderContains | HeaderMatches | Not | ReplyToDomainIn | SenderDomainIn | SubjectContains | SubjectMatches | ThreatScoreOver | UrlDomainIn
    created_at: datetime.datetime
    enabled: bool
    id: str
    name: str
    notify_admin: bool
    shadow: bool
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





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


        created_at = self.created_at.isoformat()

        enabled = self.enabled

        id = self.id

        name = self.name

        notify_admin = self.notify_admin

        shadow = self.shadow


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "action": action,
            "condition": condition,
            "created_at": created_at,
            "enabled": enabled,
            "id": id,
            "name": name,
            "notify_admin": notify_admin,
            "shadow": shadow,
        })

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


        created_at = datetime.datetime.fromisoformat(d.pop("created_at"))




        enabled = d.pop("enabled")

        id = d.pop("id")

        name = d.pop("name")

        notify_admin = d.pop("notify_admin")

        shadow = d.pop("shadow")

        policy_out = cls(
            action=action,
            condition=condition,
            created_at=created_at,
            enabled=enabled,
            id=id,
            name=name,
            notify_admin=notify_admin,
            shadow=shadow,
        )


        policy_out.additional_properties = d
        return policy_out

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
