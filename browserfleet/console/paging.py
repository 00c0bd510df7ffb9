"""Server-side pages of a list: which rows a page shows, and the links to its neighbours."""

from __future__ import annotations

import math
from dataclasses import dataclass

PER_PAGE = 25


@dataclass(frozen=True)
class Pager:
    page: int
    total: int
    per_page: int = PER_PAGE

    @classmethod
    def of(cls, page: int, total: int, per_page: int = PER_PAGE) -> Pager:
        return cls(max(1, page), total, per_page)

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def previous(self) -> int | None:
        return self.page - 1 if self.page > 1 else None

    @property
    def next(self) -> int | None:
        return self.page + 1 if self.page < self.pages else None
