from enum import StrEnum

class Action(StrEnum):
    DELIVER = "deliver"
    QUARANTINE = "quarantine"
    REJECT = "reject"

    def __str__(self) -> str:
        return str(self.value)
