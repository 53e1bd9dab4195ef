from enum import StrEnum

class ReportKind(StrEnum):
    NOT_SPAM = "not_spam"
    SPAM = "spam"

    def __str__(self) -> str:
        return str(self.value)
