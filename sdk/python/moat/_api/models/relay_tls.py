from enum import StrEnum

class RelayTls(StrEnum):
    OPPORTUNISTIC = "opportunistic"
    REQUIRED = "required"
    VERIFY = "verify"

    def __str__(self) -> str:
        return str(self.value)
