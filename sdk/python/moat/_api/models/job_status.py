from enum import StrEnum

class JobStatus(StrEnum):
    COMPLETED_WITH_ERRORS = "completed_with_errors"
    RUNNING = "running"
    SUCCEEDED = "succeeded"

    def __str__(self) -> str:
        return str(self.value)
