""" Contains all the data models used in inputs/outputs """

from .action import Action
from .all_all_item import AllAllItem
from .any_any_item import AnyAnyItem
from .attachment_ext_in import AttachmentExtIn
from .attachment_type_in import AttachmentTypeIn
from .auth_auth_args import AuthAuthArgs
from .auth_check import AuthCheck
from .auth_result import AuthResult
from .auth_summary import AuthSummary
from .body_contains import BodyContains
from .body_matches import BodyMatches
from .breakdown import Breakdown
from .bulk_action import BulkAction
from .bulk_filter import BulkFilter
from .bulk_job import BulkJob
from .customer_out import CustomerOut
from .delivery_list import DeliveryList
from .delivery_mode import DeliveryMode
from .delivery_out import DeliveryOut
from .delivery_status import DeliveryStatus
from .digest import Digest
from .digest_item import DigestItem
from .digest_sent import DigestSent
from .dmarc_check import DmarcCheck
from .domain_list import DomainList
from .domain_out import DomainOut
from .domain_patch import DomainPatch
from .domain_status import DomainStatus
from .executive import Executive
from .finding import Finding
from .from_contains import FromContains
from .header_contains_header_contains_args import HeaderContainsHeaderContainsArgs
from .header_matches_header_matches_args import HeaderMatchesHeaderMatchesArgs
from .job_status import JobStatus
from .links_revoked import LinksRevoked
from .me import Me
from .mx_record import MxRecord
from .new_bulk_job import NewBulkJob
from .new_domain import NewDomain
from .new_policy import NewPolicy
from .new_report import NewReport
from .new_rule import NewRule
from .new_token import NewToken
from .new_webhook import NewWebhook
from .not_not import NotNot
from .policy_action import PolicyAction
from .policy_list import PolicyList
from .policy_out import PolicyOut
from .problem import Problem
from .quarantine_out import QuarantineOut
from .quarantine_page import QuarantinePage
from .quarantine_status import QuarantineStatus
from .relay_tls import RelayTls
from .reply_to_domain_in import ReplyToDomainIn
from .report_kind import ReportKind
from .report_outcome import ReportOutcome
from .sender_domain_in import SenderDomainIn
from .sender_rule_kind import SenderRuleKind
from .sender_rule_list import SenderRuleList
from .sender_rule_out import SenderRuleOut
from .severity import Severity
from .spool_stats import SpoolStats
from .stats import Stats
from .subject_contains import SubjectContains
from .subject_matches import SubjectMatches
from .threat import Threat
from .threat_action import ThreatAction
from .threat_feed import ThreatFeed
from .threat_score_over import ThreatScoreOver
from .threat_type import ThreatType
from .token_kind import TokenKind
from .token_list import TokenList
from .token_out import TokenOut
from .token_scope import TokenScope
from .transport import Transport
from .txt_record import TxtRecord
from .url_domain_in import UrlDomainIn
from .verdict_counts import VerdictCounts
from .verdict_out import VerdictOut
from .verdict_page import VerdictPage
from .verification import Verification
from .webhook_event import WebhookEvent
from .webhook_list import WebhookList
from .webhook_out import WebhookOut

__all__ = (
    "Action",
    "AllAllItem",
    "AnyAnyItem",
    "AttachmentExtIn",
    "AttachmentTypeIn",
    "AuthAuthArgs",
    "AuthCheck",
    "AuthResult",
    "AuthSummary",
    "BodyContains",
    "BodyMatches",
    "Breakdown",
    "BulkAction",
    "BulkFilter",
    "BulkJob",
    "CustomerOut",
    "DeliveryList",
    "DeliveryMode",
    "DeliveryOut",
    "DeliveryStatus",
    "Digest",
    "DigestItem",
    "DigestSent",
    "DmarcCheck",
    "DomainList",
    "DomainOut",
    "DomainPatch",
    "DomainStatus",
    "Executive",
    "Finding",
    "FromContains",
    "HeaderContainsHeaderContainsArgs",
    "HeaderMatchesHeaderMatchesArgs",
    "JobStatus",
    "LinksRevoked",
    "Me",
    "MxRecord",
    "NewBulkJob",
    "NewDomain",
    "NewPolicy",
    "NewReport",
    "NewRule",
    "NewToken",
    "NewWebhook",
    "NotNot",
    "PolicyAction",
    "PolicyList",
    "PolicyOut",
    "Problem",
    "QuarantineOut",
    "QuarantinePage",
    "QuarantineStatus",
    "RelayTls",
    "ReplyToDomainIn",
    "ReportKind",
    "ReportOutcome",
    "SenderDomainIn",
    "SenderRuleKind",
    "SenderRuleList",
    "SenderRuleOut",
    "Severity",
    "SpoolStats",
    "Stats",
    "SubjectContains",
    "SubjectMatches",
    "Threat",
    "ThreatAction",
    "ThreatFeed",
    "ThreatScoreOver",
    "ThreatType",
    "TokenKind",
    "TokenList",
    "TokenOut",
    "TokenScope",
    "Transport",
    "TxtRecord",
    "UrlDomainIn",
    "VerdictCounts",
    "VerdictOut",
    "VerdictPage",
    "Verification",
    "WebhookEvent",
    "WebhookList",
    "WebhookOut",
)
