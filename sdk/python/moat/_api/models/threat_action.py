from enum import StrEnum

class ThreatAction(StrEnum):
    DELIVERED = "delivered"
    QUARANTINED = "quarantined"
    REJECTED = "rejected"

    def __str__(self) -> str:
        return str(self.value)
