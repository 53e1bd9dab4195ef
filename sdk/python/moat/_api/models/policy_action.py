from enum import StrEnum

class PolicyAction(StrEnum):
    DELIVER = "deliver"
    QUARANTINE = "quarantine"
    REJECT = "reject"
    TAG = "tag"

    def __str__(self) -> str:
        return str(self.value)
