from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..models.report_kind import ReportKind






T = TypeVar("T", bound="ReportOutcome")



@_attrs_define
class ReportOutcome:
    """ What the report changed.

        Attributes:
            id (str):
            kind (ReportKind): What a report says about a message.
            learned (bool): Whether your spam model learnt from the message now: false for a sandbox, for bytes
                that are not mail, and for a repeat of the message's current label (each message
                counts once; reporting it again with the other kind relabels it).
            model_ham (int): Messages your model knows as not spam.
            model_spam (int): Messages your model knows as spam (your reports; the gateway's own model is the
                operator's and no customer's report changes it).
     """

    id: str
    kind: ReportKind
    learned: bool
    model_ham: int
    model_spam: int
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        id = self.id

        kind = self.kind.value

        learned = self.learned

        model_ham = self.model_ham

        model_spam = self.model_spam


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "id": id,
            "kind": kind,
            "learned": learned,
            "model_ham": model_ham,
            "model_spam": model_spam,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        id = d.pop("id")

        kind = ReportKind(d.pop("kind"))




        learned = d.pop("learned")

        model_ham = d.pop("model_ham")

        model_spam = d.pop("model_spam")

        report_outcome = cls(
            id=id,
            kind=kind,
            learned=learned,
            model_ham=model_ham,
            model_spam=model_spam,
        )


        report_outcome.additional_properties = d
        return report_outcome

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())

    def __getitem__(self, key: str) -> Any:
        return self.additional_properties[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.additional_properties[key] = value

    def __delitem__(self, key: str) -> None:
        del self.additional_properties[key]

    def __contains__(self, key: str) -> bool:
        return key in self.additional_properties
