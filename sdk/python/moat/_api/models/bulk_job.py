from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..models.bulk_action import BulkAction
from ..models.job_status import JobStatus
from ..types import UNSET, Unset
from typing import cast
import datetime






T = TypeVar("T", bound="BulkJob")



@_attrs_define
class BulkJob:
    """ A bulk job and its progress.

        Attributes:
            action (BulkAction): What a bulk job does to each matching message.
            done (int): Messages acted on.
            failed (int): Messages that could not be acted on.
            id (str):
            started_at (datetime.datetime):
            status (JobStatus): Where a job stands.
            finished_at (datetime.datetime | None | Unset):
            last_error (None | str | Unset):
     """

    action: BulkAction
    done: int
    failed: int
    id: str
    started_at: datetime.datetime
    status: JobStatus
    finished_at: datetime.datetime | None | Unset = UNSET
    last_error: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        action = self.action.value

        done = self.done

        failed = self.failed

        id = self.id

        started_at = self.started_at.isoformat()

        status = self.status.value

        finished_at: None | str | Unset
        if isinstance(self.finished_at, Unset):
            finished_at = UNSET
        elif isinstance(self.finished_at, datetime.datetime):
            finished_at = self.finished_at.isoformat()
        else:
            finished_at = self.finished_at

        last_error: None | str | Unset
        if isinstance(self.last_error, Unset):
            last_error = UNSET
        else:
            last_error = self.last_error


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "action": action,
            "done": done,
            "failed": failed,
            "id": id,
            "started_at": started_at,
            "status": status,
        })
        if finished_at is not UNSET:
            field_dict["finished_at"] = finished_at
        if last_error is not UNSET:
            field_dict["last_error"] = last_error

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        action = BulkAction(d.pop("action"))




        done = d.pop("done")

        failed = d.pop("failed")

        id = d.pop("id")

        started_at = datetime.datetime.fromisoformat(d.pop("started_at"))




        status = JobStatus(d.pop("status"))




        def _parse_finished_at(data: object) -> datetime.datetime | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                finished_at_type_0 = datetime.datetime.fromisoformat(data)



                return finished_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None | Unset, data)

        finished_at = _parse_finished_at(d.pop("finished_at", UNSET))


        def _parse_last_error(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        last_error = _parse_last_error(d.pop("last_error", UNSET))


        bulk_job = cls(
            action=action,
            done=done,
            failed=failed,
            id=id,
            started_at=started_at,
            status=status,
            finished_at=finished_at,
            last_error=last_error,
        )


        bulk_job.additional_properties = d
        return bulk_job

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
