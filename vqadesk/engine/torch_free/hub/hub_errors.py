"""What can go wrong while asking the Hub or downloading from it, each as one plain line.

``huggingface_hub`` and its HTTP client raise their own exceptions (a 404 with an error code, a
refused connection, an offline switch); ``hub_errors(reference)`` turns each into a
``VqadeskError`` subclass whose message names the model and says what to do, so the command line
prints one line and the window shows the same words.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from vqadesk.engine.torch_free.hub.references import HubReference, PretrainedModelError

DEFAULT_ENDPOINT = "https://huggingface.co"


class HubDownloadError(PretrainedModelError):
    """A model that cannot be fetched from the Hub (or removed from the cache)."""


class NoNetworkError(HubDownloadError):
    """The Hub cannot be reached: no network, offline mode, a refused or timed-out connection."""


class RepoNotOnHubError(HubDownloadError):
    """No such repository, revision or file on the Hub (404), or a private one."""


class GatedModelError(HubDownloadError):
    """A gated repository the user has not been granted (or is not logged in for)."""


class NotEnoughSpaceError(HubDownloadError):
    """The cache's disk has less free space than the download needs: refused before it starts."""


class DiskFullError(HubDownloadError):
    """The disk filled up while writing; what was written stays for the next run to resume."""


class DownloadCancelledError(HubDownloadError):
    """The user cancelled; the partial file stays, so the next download resumes."""


class DownloadFailedError(HubDownloadError):
    """The connection dropped for good, or a file arrived damaged."""


class NotInCacheError(HubDownloadError):
    """``remove`` of a model (or revision) that the cache does not hold."""


def hub_endpoint() -> str:
    """The Hub's address: ``HF_ENDPOINT`` as it is now (huggingface_hub reads it once, at import)."""
    return (os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")


def http_library():
    """The HTTP client huggingface_hub talks through (``httpx2`` from version 2, ``httpx`` before), for its errors."""
    try:
        import httpx2 as http
    except ImportError:
        import httpx as http
    return http


def offline_refusal(reference: HubReference) -> NoNetworkError:
    return NoNetworkError(
        f"downloading {reference.text} needs the network, and HF_HUB_OFFLINE is set: unset it to download"
    )


@contextmanager
def hub_errors(reference: HubReference, revision: str) -> Iterator[None]:
    """Translate what ``huggingface_hub`` and its HTTP client raise into one-line vqadesk errors."""
    http = http_library()
    from huggingface_hub.errors import (
        GatedRepoError,
        HfHubHTTPError,
        OfflineModeIsEnabled,
        RemoteEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    name, endpoint = reference.text, hub_endpoint()
    try:
        yield
    except OfflineModeIsEnabled:
        raise offline_refusal(reference) from None
    except GatedRepoError:
        raise GatedModelError(
            f"{name} is gated: accept its terms on {endpoint}/{reference.repo_id} and log in "
            "(hf auth login) to download it"
        ) from None
    except RepositoryNotFoundError:
        raise RepoNotOnHubError(
            f"{name}: no such repository on the Hugging Face Hub ({endpoint}), or a private one "
            "(log in with hf auth login if it is yours)"
        ) from None
    except RevisionNotFoundError:
        raise RepoNotOnHubError(f"{name}: the Hub has no revision {revision!r} in {reference.repo_id}") from None
    except RemoteEntryNotFoundError as exc:
        missing = exc.response.url.path.rsplit("/", 1)[-1] if exc.response is not None else "a file"
        raise RepoNotOnHubError(
            f"{name}: {missing} is no longer in revision {revision!r} on the Hub; run the download again"
        ) from None
    except HfHubHTTPError as exc:
        status = exc.response.status_code if exc.response is not None else None
        if status in (401, 403):
            raise GatedModelError(
                f"{name}: the Hub ({endpoint}) refused access (HTTP {status}); log in again (hf auth login) "
                "with an account that may read this repository"
            ) from None
        raise HubDownloadError(f"{name}: the Hub ({endpoint}) answered HTTP {status}; try again later") from None
    except (http.ConnectError, http.TimeoutException, http.NetworkError) as exc:
        raise NoNetworkError(
            f"cannot reach the Hugging Face Hub ({endpoint}): {_first_line(exc)}; "
            f"downloading {name} needs the network"
        ) from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
