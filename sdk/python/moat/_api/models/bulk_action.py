from enum import StrEnum

class BulkAction(StrEnum):
    DELETE = "delete"
    RELEASE = "release"

    def __str__(self) -> str:
        return str(self.value)
