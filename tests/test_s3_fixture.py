"""The S3 test endpoint behaves like an endpoint that can go away and come back."""

from __future__ import annotations

import pytest
from botocore.config import Config
from botocore.exceptions import EndpointConnectionError

from tests.s3 import MotoS3


def test_objects_survive_an_outage(s3: MotoS3) -> None:
    bucket = s3.new_bucket()
    s3.client().put_object(Bucket=bucket, Key="a/b.txt", Body=b"kept")
    s3.stop()
    impatient = s3.client(Config(connect_timeout=1, retries={"max_attempts": 0}))
    with pytest.raises(EndpointConnectionError):
        impatient.list_objects_v2(Bucket=bucket)
    s3.start()
    assert s3.client().get_object(Bucket=bucket, Key="a/b.txt")["Body"].read() == b"kept"
