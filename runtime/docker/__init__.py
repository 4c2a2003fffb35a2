"""The Docker Engine runtime: ``runtime.docker.driver.DockerDriver``.

Role: package of the Docker driver (driver, convert, images, events, errors).
Importing the package is cheap; the SDK is imported by the submodules only.
Neighbours: ``runtime.registry`` loads ``runtime.docker.driver`` lazily.
"""
