from enum import StrEnum

class AuthResult(StrEnum):
    FAIL = "fail"
    NEUTRAL = "neutral"
    NONE = "none"
    PASS = "pass"
    PERMERROR = "permerror"
    POLICY = "policy"
    SOFTFAIL = "softfail"
    TEMPERROR = "temperror"

    def __str__(self) -> str:
        return str(self.value)
