from enum import StrEnum

class WebhookEvent(StrEnum):
    AUTH_FAILED = "auth.failed"
    POLICY_TRIGGERED = "policy.triggered"
    QUARANTINE_RELEASED = "quarantine.released"
    REPORT_DAILY = "report.daily"
    THREAT_DETECTED = "threat.detected"
    THREAT_QUARANTINED = "threat.quarantined"

    def __str__(self) -> str:
        return str(self.value)
