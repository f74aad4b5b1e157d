"""Fixtures for the image tests: the built image (make image), one mounted root filesystem for the
session, and a runner applying the CronJob's securityContext. `make test-image` names the image in
DRIFTCHECK_IMAGE, so there a missing image fails; a bare pytest run without one skips."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from testing.image import PodRunner, cronjob_security, image_exists, image_root


@pytest.fixture(scope="session")
def pod() -> Iterator[PodRunner]:
    image = os.environ.get("DRIFTCHECK_IMAGE")
    if not image_exists(image or "localhost/driftcheck:dev"):
        if image:
            pytest.fail(f"DRIFTCHECK_IMAGE={image} is not in buildah's storage: run make image")
        pytest.skip("no image built: run make image (make test-image runs these tests)")
    image = image or "localhost/driftcheck:dev"
    with image_root(image) as root:
        yield PodRunner(image, root, cronjob_security())
