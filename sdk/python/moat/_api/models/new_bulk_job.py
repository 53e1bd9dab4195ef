from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..models.bulk_action import BulkAction
from ..types import UNSET, Unset
from typing import cast

if TYPE_CHECKING:
  from ..models.bulk_filter import BulkFilter





T = TypeVar("T", bound="NewBulkJob")



@_attrs_define
class NewBulkJob:
    """ A bulk job to start.

        Attributes:
            action (BulkAction): What a bulk job does to each matching message.
            filter_ (BulkFilter | Unset): Which quarantined messages a job acts on (only ones still `quarantined`).
     """

    action: BulkAction
    filter_: BulkFilter | Unset = UNSET





    def to_dict(self) -> dict[str, Any]:
        from ..models.bulk_filter import BulkFilter # noqa: PLC0415
        action = self.action.value

        filter_: dict[str, Any] | Unset = UNSET
        if not isinstance(self.filter_, Unset):
            filter_ = self.filter_.to_dict()


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "action": action,
        })
        if filter_ is not UNSET:
            field_dict["filter"] = filter_

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.bulk_filter import BulkFilter # noqa: PLC0415
        d = dict(src_dict)
        action = BulkAction(d.pop("action"))




        _filter_ = d.pop("filter", UNSET)
        filter_: BulkFilter | Unset
        if isinstance(_filter_,  Unset):
            filter_ = UNSET
        else:
            filter_ = BulkFilter.from_dict(_filter_)




        new_bulk_job = cls(
            action=action,
            filter_=filter_,
        )

        return new_bulk_job

