from enum import StrEnum

class ThreatType(StrEnum):
    BEC = "bec"
    MALWARE = "malware"
    PHISHING = "phishing"
    POLICY = "policy"
    SPAM = "spam"

    def __str__(self) -> str:
        return str(self.value)
