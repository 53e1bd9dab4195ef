from enum import StrEnum

class DeliveryMode(StrEnum):
    PROXY = "proxy"
    SPOOL = "spool"

    def __str__(self) -> str:
        return str(self.value)
