from enum import StrEnum

class DomainStatus(StrEnum):
    ACTIVE = "active"
    PENDING_MX_VERIFICATION = "pending_mx_verification"

    def __str__(self) -> str:
        return str(self.value)
