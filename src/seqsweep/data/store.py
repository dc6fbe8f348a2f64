"""The built dataset in Ray's object store: put once, read by every trial without a copy.

`ray.put` serialises the bundle's numpy arrays out-of-band, so `ray.get` in any worker on the node
maps the shared-memory object: the arrays are read-only views, no trial copies or rebuilds them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from seqsweep.data.bundle import DatasetBundle

if TYPE_CHECKING:
    from ray import ObjectRef


def put_bundle(bundle: DatasetBundle) -> ObjectRef:
    """Put `bundle` in the object store (one `ray.put`); hand the ref to trials (e.g. `tune.with_parameters`)."""
    import ray

    return ray.put(bundle)


def get_bundle(handle: Any) -> DatasetBundle:
    """What a consumer calls on whatever it was handed: an ObjectRef (resolved, zero-copy) or a bundle as is."""
    if isinstance(handle, DatasetBundle):
        return handle
    import ray

    bundle = ray.get(handle)
    if not isinstance(bundle, DatasetBundle):
        raise TypeError(f"expected an ObjectRef of a DatasetBundle, got one of {type(bundle).__name__}")
    return bundle
