from enum import StrEnum

class QuarantineStatus(StrEnum):
    DELETED = "deleted"
    QUARANTINED = "quarantined"
    RELEASED = "released"
    RELEASING = "releasing"

    def __str__(self) -> str:
        return str(self.value)
