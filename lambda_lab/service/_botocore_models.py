"""One botocore loader per search path for every session in the process, so a new session reuses parsed models.

moto starts each mock with `boto3.DEFAULT_SESSION = None`, and botocore gives every new session its own loader,
which reads and parses `endpoints.json`, the partitions and each service's model again: about 0.1 s of CPU per
session and its first clients, paid at each lab start and by each client the lab makes for deliveries. The
models are read-only data keyed by botocore's search path (`AWS_DATA_PATH`), so one loader per path serves all.

The loader also looks for a model in its own service's folders: botocore lists every service's folders for each
type of model it loads (service-2, paginators-1, waiters-2, ...), 0.37 s of CPU in each new kernel or process.

>>> share_loaders()
>>> one, two = botocore.session.get_session(), botocore.session.get_session()
>>> one.get_component("data_loader") is two.get_component("data_loader")
True
"""

from __future__ import annotations

import functools
import os

import botocore.exceptions
import botocore.loaders
import botocore.session

__all__ = ["Loader", "share_loaders", "shared_loader"]


class Loader(botocore.loaders.Loader):
    """botocore's Loader; to load a model it looks in that service's folders only (botocore 1.43.11's body)."""

    @botocore.loaders.instance_cache
    def load_service_model(self, service_name, type_name, api_version=None):
        try:  # the service has this type of model: listing every other service's folders would say no more
            latest = self.list_api_versions(service_name, type_name)[-1]
        except botocore.exceptions.DataNotFoundError:  # an unknown service: botocore's own error and message
            return super().load_service_model(service_name, type_name, api_version)
        api_version = api_version or latest
        model = self.load_data(os.path.join(service_name, api_version, type_name))
        self._extras_processor.process(model, self._find_extras(service_name, type_name, api_version))
        return model


@functools.lru_cache(maxsize=8)
def shared_loader(search_path_string: str | None = None) -> Loader:
    """botocore.loaders.create_loader's search paths, in a Loader shared by every session that asks for them."""
    if search_path_string is None:
        return Loader()
    paths = [os.path.expanduser(os.path.expandvars(p)) for p in search_path_string.split(os.pathsep)]
    return Loader(extra_search_paths=paths)


def share_loaders() -> None:
    """Make botocore's sessions share a loader per search path (idempotent)."""
    botocore.session.create_loader = shared_loader
