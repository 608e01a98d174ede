"""The base of dpomath's result dataclasses: :meth:`Record.to_dict` gives the plain dict the
command line prints as JSON (fields in order; optional fields that are None are left out).

Results used to be plain dicts; reading a field by key (``result["ok"]``) still works for one
release and warns (DeprecationWarning): use the attribute (``result.ok``) or ``to_dict()``.
"""
from __future__ import annotations

import dataclasses
import warnings
from typing import Any, ClassVar

__all__ = ["Record"]


class Record:
    """Mixin for result dataclasses.

    ``OPTIONAL`` names the fields that are omitted from :meth:`to_dict` when they are None.
    """

    OPTIONAL: ClassVar[tuple[str, ...]] = ()

    def to_dict(self) -> dict[str, Any]:
        """The fields as a dict, in declaration order (optional None fields left out).

        Returns
        -------
        dict
        """
        out = {}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            v = getattr(self, f.name)
            if v is None and f.name in self.OPTIONAL:
                continue
            out[f.name] = v.to_dict() if isinstance(v, Record) else v
        return out

    def __getitem__(self, key: str) -> Any:
        warnings.warn(f"{type(self).__name__}[{key!r}]: results are dataclasses now; use the "
                      f"attribute .{key} (or .to_dict()); key access will be removed",
                      DeprecationWarning, stacklevel=2)
        return self.to_dict()[key]

    def keys(self):
        """The keys of :meth:`to_dict` (with ``__getitem__``, ``dict(result)`` still works)."""
        return self.to_dict().keys()
