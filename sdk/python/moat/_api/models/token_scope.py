from enum import StrEnum

class TokenScope(StrEnum):
    ADMIN = "admin"
    QUARANTINE = "quarantine"
    READ_ONLY = "read_only"

    def __str__(self) -> str:
        return str(self.value)
