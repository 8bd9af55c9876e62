"""The cloud region a deployment runs in, read from its API base where the host names it.

LiteLLM sends `region_name` only where a deployment's config sets it; its region-outage alerts
otherwise know no region. These hosts carry one:

- AWS Bedrock: ``bedrock-runtime.us-east-1.amazonaws.com`` (also ``bedrock``, ``-fips``);
- Google Vertex AI: ``us-central1-aiplatform.googleapis.com``, or ``/locations/us-central1/``
  in the path of the global host;
- Azure: ``eastus.api.cognitive.microsoft.com`` (regional endpoints; a resource endpoint,
  ``name.openai.azure.com``, names no region).
"""

from __future__ import annotations

import functools
import re
from urllib.parse import urlsplit

_REGION = r"[a-z]{2,}(?:-[a-z]+)*-?\d*"
_HOSTS = (
    re.compile(rf"^bedrock(?:-runtime)?(?:-fips)?\.({_REGION})\.amazonaws\.com$"),
    re.compile(rf"^({_REGION}\d)-aiplatform\.googleapis\.com$"),
    re.compile(r"^([a-z]+\d*)\.api\.cognitive\.microsoft\.com$"),
)
_VERTEX_PATH = re.compile(r"/locations/([a-z]+-[a-z]+\d+)(?:/|$)")


@functools.lru_cache(maxsize=1024)  # a gateway has a handful of API bases; this runs per event
def region_of(api_base: str) -> str:
    """The region the API base names, or "" when it names none."""
    if not api_base:
        return ""
    try:
        parts = urlsplit(api_base if "//" in api_base else f"//{api_base}")
        host = (parts.hostname or "").lower()
    except ValueError:  # a malformed address names no region
        return ""
    for pattern in _HOSTS:
        found = pattern.match(host)
        if found:
            return found.group(1)
    if host.endswith("aiplatform.googleapis.com"):
        found = _VERTEX_PATH.search(parts.path)
        if found:
            return found.group(1)
    return ""
