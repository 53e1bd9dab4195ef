from enum import StrEnum

class SenderRuleKind(StrEnum):
    ALLOW = "allow"
    BLOCK = "block"

    def __str__(self) -> str:
        return str(self.value)
