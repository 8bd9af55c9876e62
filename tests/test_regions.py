"""The region a deployment's API base names (ingest/regions.py)."""

import pytest

from ingest.regions import region_of


@pytest.mark.parametrize(
    ("api_base", "region"),
    [
        ("https://bedrock-runtime.us-east-1.amazonaws.com", "us-east-1"),
        ("https://bedrock-runtime.eu-west-3.amazonaws.com/model/x/invoke", "eu-west-3"),
        ("https://bedrock-runtime-fips.us-gov-west-1.amazonaws.com", "us-gov-west-1"),
        ("https://bedrock.ap-southeast-2.amazonaws.com", "ap-southeast-2"),
        ("https://us-central1-aiplatform.googleapis.com/v1/projects/p", "us-central1"),
        ("https://europe-west4-aiplatform.googleapis.com", "europe-west4"),
        (
            "https://aiplatform.googleapis.com/v1/projects/p/locations/asia-northeast1/endpoints",
            "asia-northeast1",
        ),
        ("https://eastus2.api.cognitive.microsoft.com/", "eastus2"),
        ("https://WestEurope.api.cognitive.microsoft.com", "westeurope"),
        ("bedrock-runtime.us-west-2.amazonaws.com", "us-west-2"),  # no scheme
    ],
)
def test_hosts_that_name_a_region(api_base, region):
    assert region_of(api_base) == region


@pytest.mark.parametrize(
    "api_base",
    [
        "",
        "https://my-resource.openai.azure.com",  # a resource, not a region
        "https://api.openai.com/v1",
        "https://aiplatform.googleapis.com/v1/projects/p/locations/global/endpoints",
        "https://bedrock-runtime.amazonaws.com",
        "http://127.0.0.1:18555/fake-openai/delay/0/v1",
        "https://evil.com/bedrock-runtime.us-east-1.amazonaws.com",
        "https://bedrock-runtime.us-east-1.amazonaws.com.evil.com",
        "http://[::1",  # malformed
    ],
)
def test_hosts_that_name_none(api_base):
    assert region_of(api_base) == ""
